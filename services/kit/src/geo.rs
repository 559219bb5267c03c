//! The datums coordinates come in, and the conversions between them.
//!
//! Maps published in mainland China do not show WGS-84 (the GPS datum): the
//! law requires them to offset every point by the GCJ-02 formula (国测局坐标,
//! "Mars coordinates"), which AMap (高德), Tencent Maps (腾讯) and Apple Maps in
//! China use. Baidu Maps adds a second offset of its own on top of it, BD-09
//! (百度坐标). In Shanghai the two are about 480 m and 1.1 km from WGS-84, as
//! much as the radius of the 500-metre service circle or more, so a point
//! copied from a map app without conversion lands in the wrong street. Louyu stores WGS-84 and
//! converts with these functions on the way in and, when asked, on the way
//! out.
//!
//! The formulas are the published reconstructions every open-source
//! implementation shares (eviltransform, coordtransform): GCJ-02's offset
//! on the Krasovsky 1940 ellipsoid, and BD-09's `x_pi` rotation on top of
//! it. Neither has a closed-form inverse; the published inverses are one
//! step of approximation, off by up to 2 m (GCJ-02) and 0.1 m (BD-09), so
//! here both are inverted by fixed-point iteration to far below a millimetre,
//! and a point converted there and back is the point given. Outside the
//! bounding box of China, where the offset is not applied, all three datums
//! are the same.
//!
//! Points are `(latitude, longitude)` in decimal degrees, as in
//! [`crate::fields::distance_meters`]: beware that most published
//! implementations take longitude first.

use louyu_proto::common::v1::CoordinateDatum;
use louyu_proto::google::r#type::LatLng;

use crate::error::InvalidArgument;

/// A datum coordinates are given in, parsed from a request's
/// `CoordinateDatum`: unspecified means WGS-84, which is what Louyu stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Datum {
    /// GPS, OpenStreetMap, survey data, and Louyu's own storage.
    #[default]
    Wgs84,
    /// AMap, Tencent Maps, Apple Maps in China.
    Gcj02,
    /// Baidu Maps.
    Bd09,
}

impl Datum {
    /// Parses a request's `CoordinateDatum` field; a number this version of
    /// the API does not know is an invalid argument naming `field`.
    pub fn parse(field: &str, value: i32) -> Result<Self, InvalidArgument> {
        match CoordinateDatum::try_from(value) {
            Ok(CoordinateDatum::Unspecified | CoordinateDatum::Wgs84) => Ok(Self::Wgs84),
            Ok(CoordinateDatum::Gcj02) => Ok(Self::Gcj02),
            Ok(CoordinateDatum::Bd09) => Ok(Self::Bd09),
            Err(_) => Err(InvalidArgument::new(
                field,
                format!("未知的坐标系 unknown coordinate datum {value}; use WGS84, GCJ02 or BD09"),
            )),
        }
    }

    /// A point given in this datum, in WGS-84.
    pub fn to_wgs84(self, point: (f64, f64)) -> (f64, f64) {
        match self {
            Self::Wgs84 => point,
            Self::Gcj02 => gcj02_to_wgs84(point),
            Self::Bd09 => gcj02_to_wgs84(bd09_to_gcj02(point)),
        }
    }

    /// A WGS-84 point, in this datum.
    pub fn from_wgs84(self, point: (f64, f64)) -> (f64, f64) {
        match self {
            Self::Wgs84 => point,
            Self::Gcj02 => wgs84_to_gcj02(point),
            Self::Bd09 => gcj02_to_bd09(wgs84_to_gcj02(point)),
        }
    }

    /// A request's `LatLng` in this datum, in WGS-84. Values out of range
    /// (or not numbers) are outside China and pass unchanged, for
    /// [`crate::fields::location`] to reject.
    pub fn lat_lng_to_wgs84(self, location: &LatLng) -> LatLng {
        let (latitude, longitude) = self.to_wgs84((location.latitude, location.longitude));
        LatLng {
            latitude,
            longitude,
        }
    }

    /// A stored WGS-84 `LatLng`, in this datum.
    pub fn lat_lng_from_wgs84(self, location: &LatLng) -> LatLng {
        let (latitude, longitude) = self.from_wgs84((location.latitude, location.longitude));
        LatLng {
            latitude,
            longitude,
        }
    }
}

/// Whether a point is outside the bounding box of China used by every
/// published implementation, where no offset applies. The box is coarse (it
/// takes in Mongolia and parts of China's neighbours) but it is what the map
/// apps' own SDKs use, so it is the one that matches their coordinates.
pub fn outside_china((latitude, longitude): (f64, f64)) -> bool {
    !(72.004..=137.8347).contains(&longitude) || !(0.8293..=55.8271).contains(&latitude)
}

/// WGS-84 to GCJ-02.
pub fn wgs84_to_gcj02(wgs84: (f64, f64)) -> (f64, f64) {
    if outside_china(wgs84) {
        return wgs84;
    }
    gcj02_offset_applied(wgs84)
}

/// GCJ-02 to WGS-84: the WGS-84 point whose GCJ-02 offset lands on the
/// given one.
pub fn gcj02_to_wgs84(gcj02: (f64, f64)) -> (f64, f64) {
    if outside_china(gcj02) {
        return gcj02;
    }
    // Start from the GCJ-02 point itself: the first step is the published
    // one-step inverse, and each further one is hundreds of times closer.
    invert(gcj02_offset_applied, gcj02, gcj02)
}

/// GCJ-02 to BD-09.
pub fn gcj02_to_bd09(gcj02: (f64, f64)) -> (f64, f64) {
    if outside_china(gcj02) {
        return gcj02;
    }
    bd09_offset_applied(gcj02)
}

/// BD-09 to GCJ-02: the published inverse, refined until BD-09's offset of
/// the result lands on the given point.
pub fn bd09_to_gcj02(bd09: (f64, f64)) -> (f64, f64) {
    if outside_china(bd09) {
        return bd09;
    }
    invert(bd09_offset_applied, bd09, bd09_offset_removed(bd09))
}

/// The semi-major axis and first eccentricity squared of the Krasovsky 1940
/// ellipsoid, on which GCJ-02 computes its offset. The eccentricity is
/// written as every implementation publishes it, which is more digits than
/// an `f64` holds, so that it can be recognised.
const KRASOVSKY_SEMI_MAJOR_AXIS: f64 = 6_378_245.0;
#[allow(clippy::excessive_precision)]
const KRASOVSKY_ECCENTRICITY_SQUARED: f64 = 0.006_693_421_622_965_943_23;

/// The `x_pi` of BD-09's rotation.
const BD09_X_PI: f64 = std::f64::consts::PI * 3000.0 / 180.0;

/// How close a fixed-point inverse must come, in degrees (about 10 µm), and
/// how many steps it may take to get there; three or four do it in China.
const INVERSE_TOLERANCE_DEGREES: f64 = 1e-10;
const INVERSE_MAX_STEPS: usize = 20;

/// The point `target` whose image under `forward` is `image`, starting from
/// `start`: each step moves by the image's miss. It converges because both
/// offsets change by less than a thousandth of a degree per degree.
fn invert(
    forward: fn((f64, f64)) -> (f64, f64),
    image: (f64, f64),
    start: (f64, f64),
) -> (f64, f64) {
    let mut point = start;
    for _ in 0..INVERSE_MAX_STEPS {
        let landed = forward(point);
        let miss = (landed.0 - image.0, landed.1 - image.1);
        if miss.0.abs() < INVERSE_TOLERANCE_DEGREES && miss.1.abs() < INVERSE_TOLERANCE_DEGREES {
            break;
        }
        point = (point.0 - miss.0, point.1 - miss.1);
    }
    point
}

/// GCJ-02's offset added to a point, with no bounding-box check.
fn gcj02_offset_applied((latitude, longitude): (f64, f64)) -> (f64, f64) {
    let x = longitude - 105.0;
    let y = latitude - 35.0;
    let latitude_offset_meters = gcj02_latitude_offset(x, y);
    let longitude_offset_meters = gcj02_longitude_offset(x, y);
    let latitude_radians = latitude.to_radians();
    let magic = 1.0 - KRASOVSKY_ECCENTRICITY_SQUARED * latitude_radians.sin().powi(2);
    let magic_root = magic.sqrt();
    let latitude_offset = (latitude_offset_meters * 180.0)
        / ((KRASOVSKY_SEMI_MAJOR_AXIS * (1.0 - KRASOVSKY_ECCENTRICITY_SQUARED))
            / (magic * magic_root)
            * std::f64::consts::PI);
    let longitude_offset = (longitude_offset_meters * 180.0)
        / (KRASOVSKY_SEMI_MAJOR_AXIS / magic_root * latitude_radians.cos() * std::f64::consts::PI);
    (latitude + latitude_offset, longitude + longitude_offset)
}

/// The published `transformLat`, of `x` = longitude − 105 and `y` =
/// latitude − 35.
fn gcj02_latitude_offset(x: f64, y: f64) -> f64 {
    use std::f64::consts::PI;
    -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * x.abs().sqrt()
        + (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0
        + (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0
        + (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0
}

/// The published `transformLng`, of the same `x` and `y`.
fn gcj02_longitude_offset(x: f64, y: f64) -> f64 {
    use std::f64::consts::PI;
    300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * x.abs().sqrt()
        + (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0
        + (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0
        + (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0
}

/// BD-09's offset of a GCJ-02 point, with no bounding-box check.
fn bd09_offset_applied((latitude, longitude): (f64, f64)) -> (f64, f64) {
    let radius = longitude.hypot(latitude) + 0.000_02 * (latitude * BD09_X_PI).sin();
    let angle = latitude.atan2(longitude) + 0.000_003 * (longitude * BD09_X_PI).cos();
    (radius * angle.sin() + 0.006, radius * angle.cos() + 0.0065)
}

/// The published one-step inverse of [`bd09_offset_applied`], about 0.1 m
/// off in Shanghai: the start of [`bd09_to_gcj02`]'s refinement.
fn bd09_offset_removed((latitude, longitude): (f64, f64)) -> (f64, f64) {
    let x = longitude - 0.0065;
    let y = latitude - 0.006;
    let radius = x.hypot(y) - 0.000_02 * (y * BD09_X_PI).sin();
    let angle = y.atan2(x) - 0.000_003 * (x * BD09_X_PI).cos();
    (radius * angle.sin(), radius * angle.cos())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::distance_meters;

    fn assert_near(actual: (f64, f64), expected: (f64, f64), tolerance: f64, what: &str) {
        assert!(
            (actual.0 - expected.0).abs() <= tolerance
                && (actual.1 - expected.1).abs() <= tolerance,
            "{what}: got {actual:?}, expected {expected:?} within {tolerance}°"
        );
    }

    /// `(WGS-84, GCJ-02)` pairs, `(latitude, longitude)`, from
    /// googollee/eviltransform, go/transform_test.go (the same three in its
    /// c/test.c, javascript/test.js and python/test.py): Shanghai, Shenzhen,
    /// Beijing.
    const EVILTRANSFORM_PAIRS: [((f64, f64), (f64, f64)); 3] = [
        (
            (31.1774276, 121.5272106),
            (31.17530398364597, 121.531541859215),
        ),
        (
            (22.543847, 113.912316),
            (22.540796131694766, 113.9171764808363),
        ),
        (
            (39.911954, 116.377817),
            (39.91334545536069, 116.38404722455657),
        ),
    ];

    #[test]
    fn wgs84_to_gcj02_matches_eviltransforms_published_pairs() {
        for (wgs84, gcj02) in EVILTRANSFORM_PAIRS {
            assert_near(wgs84_to_gcj02(wgs84), gcj02, 1e-9, "WGS-84 to GCJ-02");
        }
    }

    #[test]
    fn gcj02_to_wgs84_recovers_eviltransforms_published_pairs_far_closer_than_one_step() {
        for (wgs84, gcj02) in EVILTRANSFORM_PAIRS {
            let inverted = gcj02_to_wgs84(gcj02);
            assert_near(inverted, wgs84, 1e-9, "GCJ-02 to WGS-84");
            let error = distance_meters(inverted, wgs84);
            assert!(error < 0.001, "{error} m");
            // The published one-step inverse, for contrast: 0.3 to 2 m off.
            let one_step = {
                let applied = gcj02_offset_applied(gcj02);
                (2.0 * gcj02.0 - applied.0, 2.0 * gcj02.1 - applied.1)
            };
            let one_step_error = distance_meters(one_step, wgs84);
            assert!(one_step_error > 0.2, "{one_step_error} m");
        }
    }

    /// wandergis/coordtransform, README.md: the example point
    /// (39.915, 116.404) converted by `wgs84togcj02`, `gcj02tobd09` and
    /// `bd09togcj02` (there written longitude first).
    #[test]
    fn conversions_match_coordtransforms_published_examples() {
        let point = (39.915, 116.404);
        assert_near(
            wgs84_to_gcj02(point),
            (39.91640428150164, 116.41024449916938),
            1e-9,
            "wgs84togcj02",
        );
        assert_near(
            gcj02_to_bd09(point),
            (39.92133699351021, 116.41036949371029),
            1e-9,
            "gcj02tobd09",
        );
        // coordtransform's `bd09togcj02` is the one-step inverse; the refined
        // one differs from it by its error, about 0.1 m, and lands exactly.
        let refined = bd09_to_gcj02(point);
        assert_near(
            refined,
            (39.90865673957631, 116.39762729119315),
            2e-6,
            "bd09togcj02",
        );
        assert_near(gcj02_to_bd09(refined), point, 1e-9, "BD-09 of the result");
    }

    #[test]
    fn round_trips_land_on_the_point_given() {
        // Across the districts of Shanghai and out to the edges of China.
        let points = [
            (31.2304, 121.4737),
            (31.2286, 121.4522),
            (31.0, 121.2),
            (31.4, 121.9),
            (45.75, 126.63),
            (20.04, 110.34),
            (43.8, 87.6),
        ];
        for point in points {
            let gcj02 = wgs84_to_gcj02(point);
            assert_near(
                gcj02_to_wgs84(gcj02),
                point,
                1e-9,
                "WGS-84 → GCJ-02 → WGS-84",
            );
            assert_near(
                wgs84_to_gcj02(gcj02_to_wgs84(point)),
                point,
                1e-9,
                "GCJ-02 → WGS-84 → GCJ-02",
            );
            assert_near(
                bd09_to_gcj02(gcj02_to_bd09(point)),
                point,
                1e-9,
                "GCJ-02 → BD-09 → GCJ-02",
            );
            for datum in [Datum::Wgs84, Datum::Gcj02, Datum::Bd09] {
                assert_near(
                    datum.to_wgs84(datum.from_wgs84(point)),
                    point,
                    1e-9,
                    &format!("{datum:?} and back"),
                );
            }
        }
    }

    #[test]
    fn in_shanghai_the_offsets_are_about_the_radius_of_the_service_circle() {
        // Near People's Square (人民广场).
        let peoples_square = (31.2304, 121.4737);
        let gcj02 = wgs84_to_gcj02(peoples_square);
        let gcj02_offset = distance_meters(peoples_square, gcj02);
        assert!(
            (470.0..=495.0).contains(&gcj02_offset),
            "GCJ-02 is {gcj02_offset} m off"
        );
        // GCJ-02 moves the point south-east.
        assert!(gcj02.0 < peoples_square.0 && gcj02.1 > peoples_square.1);
        let bd09_offset = distance_meters(peoples_square, Datum::Bd09.from_wgs84(peoples_square));
        assert!(
            (1100.0..=1180.0).contains(&bd09_offset),
            "BD-09 is {bd09_offset} m off"
        );
    }

    #[test]
    fn outside_china_every_datum_is_wgs84() {
        for point in [
            (51.4779, -0.0015),
            (35.6812, 139.7671),
            (-33.8568, 151.2153),
        ] {
            assert!(outside_china(point));
            for datum in [Datum::Gcj02, Datum::Bd09] {
                assert_eq!(datum.from_wgs84(point), point);
                assert_eq!(datum.to_wgs84(point), point);
            }
        }
        assert!(!outside_china((31.2304, 121.4737)));
    }

    #[test]
    fn unspecified_is_wgs84_and_unknown_numbers_name_the_field() {
        assert_eq!(Datum::parse("location_datum", 0).unwrap(), Datum::Wgs84);
        assert_eq!(
            Datum::parse("location_datum", CoordinateDatum::Gcj02 as i32).unwrap(),
            Datum::Gcj02
        );
        assert_eq!(
            Datum::parse("location_datum", CoordinateDatum::Bd09 as i32).unwrap(),
            Datum::Bd09
        );
        let unknown = Datum::parse("location_datum", 9).unwrap_err();
        assert_eq!(unknown.violations[0].field, "location_datum");
    }
}
