//! The live screen: a page for the district's wall screens and phones,
//! served by the gateway at `/` with its assets under `/screen/`, bundled
//! into the binary (no CDN; it works with no internet). Plain HTML, CSS and
//! JavaScript modules, no build step; Apache ECharts vendored from the npm
//! registry (`echarts` 6.1.0, `dist/echarts.min.js`, with its LICENSE and
//! NOTICE beside it). The page reads everything over the gateway's REST
//! routes and its event stream, as the viewer; it holds no data of its own.
//!
//! Every asset is answered with a strict Content Security Policy (self
//! only, no inline script or style), which the page is written to obey.

use bytes::Bytes;
use tonic::body::Body;

/// The page's Content Security Policy: its own origin only.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The path the screen's assets are served under.
pub const ASSET_PREFIX: &str = "/screen/";

/// One bundled file: its path, content type and bytes.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        path: "/",
        content_type: "text/html; charset=utf-8",
        bytes: include_bytes!("../screen/index.html"),
    },
    Asset {
        path: "/screen/screen.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../screen/screen.css"),
    },
    Asset {
        path: "/screen/screen.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../screen/screen.js"),
    },
    Asset {
        path: "/screen/i18n.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../screen/i18n.js"),
    },
    Asset {
        path: "/screen/live.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../screen/live.js"),
    },
    Asset {
        path: "/screen/vendor/echarts/echarts.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../screen/vendor/echarts/echarts.min.js"),
    },
    Asset {
        path: "/screen/vendor/echarts/LICENSE",
        content_type: "text/plain; charset=utf-8",
        bytes: include_bytes!("../screen/vendor/echarts/LICENSE"),
    },
    Asset {
        path: "/screen/vendor/echarts/NOTICE",
        content_type: "text/plain; charset=utf-8",
        bytes: include_bytes!("../screen/vendor/echarts/NOTICE"),
    },
];

/// Whether `path` is the screen's to answer.
pub fn is_screen_path(path: &str) -> bool {
    path == "/" || path == "/screen" || path.starts_with(ASSET_PREFIX)
}

/// The asset at `path` with its security headers, or 404.
pub fn answer(path: &str) -> http::Response<Body> {
    let path = if path == "/screen" || path == ASSET_PREFIX {
        "/"
    } else {
        path
    };
    let found = ASSETS.iter().find(|asset| asset.path == path);
    let builder = http::Response::builder()
        .header(
            http::header::CONTENT_SECURITY_POLICY,
            CONTENT_SECURITY_POLICY,
        )
        .header(http::header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(http::header::REFERRER_POLICY, "no-referrer")
        .header(http::header::X_FRAME_OPTIONS, "DENY");
    match found {
        Some(asset) => builder
            .status(http::StatusCode::OK)
            .header(http::header::CONTENT_TYPE, asset.content_type)
            // The page follows the binary: a new release serves new assets
            // under the same paths, so browsers ask again each time.
            .header(http::header::CACHE_CONTROL, "no-cache")
            .body(Body::new(http_body_util::Full::new(Bytes::from_static(
                asset.bytes,
            ))))
            .expect("a valid response"),
        None => builder
            .status(http::StatusCode::NOT_FOUND)
            .header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(Body::new(http_body_util::Full::new(Bytes::from_static(
                "未找到 not found".as_bytes(),
            ))))
            .expect("a valid response"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_its_own_scripts_and_styles() {
        let page = std::str::from_utf8(ASSETS[0].bytes).unwrap();
        assert!(!page.contains("<style"), "no inline style");
        assert!(!page.contains(" style="), "no style attribute");
        assert!(!page.contains("http://") && !page.contains("https://"));
        for script in page.split("<script").skip(1) {
            assert!(script.contains("src=\"/screen/"), "{script}");
        }
        for asset in ASSETS {
            assert!(!asset.bytes.is_empty(), "{}", asset.path);
        }
    }

    #[test]
    fn an_unknown_asset_is_not_found_and_every_answer_carries_the_policy() {
        let missing = answer("/screen/nothing.js");
        assert_eq!(missing.status(), http::StatusCode::NOT_FOUND);
        let page = answer("/");
        assert_eq!(page.status(), http::StatusCode::OK);
        assert_eq!(
            page.headers()[http::header::CONTENT_SECURITY_POLICY],
            CONTENT_SECURITY_POLICY
        );
    }
}
