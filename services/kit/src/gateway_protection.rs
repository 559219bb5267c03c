//! The gateway's protection settings, part of [`crate::config::Config`]:
//! how large a request may be, how fast one caller may call, how many
//! requests and streams are served at once, how long a unary call may take,
//! which browser origins may call, and how long browsers keep to HTTPS.
//! Each has a default that suits the one-command local run; the gateway
//! (`gateway/src/protect.rs`) applies them, and docs/gateway-protection.md
//! says why each default is what it is.

use std::net::IpAddr;
use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewayProtection {
    /// The largest REST body, and the largest gRPC message, the gateway
    /// takes (`LOUYU_GATEWAY_MAX_BODY_BYTES`, 4 MiB: tonic's own default
    /// limit for a message, which the services behind apply anyway).
    pub max_body_bytes: usize,
    /// Requests per second one caller may make on average
    /// (`LOUYU_GATEWAY_RATE_PER_SECOND`, a decimal; `0` turns the limit off).
    pub rate_per_second: f64,
    /// How many requests one caller may make at once above that rate
    /// (`LOUYU_GATEWAY_RATE_BURST`).
    pub rate_burst: u32,
    /// Proxies in front of the gateway whose `X-Forwarded-For` is believed,
    /// as addresses or CIDR ranges (`LOUYU_GATEWAY_TRUSTED_PROXIES`,
    /// comma-separated, e.g. `10.0.0.0/8,192.168.1.7`). Empty: the peer's
    /// address is the caller's, whatever the header says.
    pub trusted_proxies: Vec<String>,
    /// Most requests served at once (streams aside); one more is refused at
    /// once as overloaded (`LOUYU_GATEWAY_MAX_IN_FLIGHT`).
    pub max_in_flight: usize,
    /// Most streams (server-streaming gRPC, server-sent events) open at
    /// once (`LOUYU_GATEWAY_MAX_STREAMS`).
    pub max_streams: usize,
    /// Longest a unary gRPC call through the gateway may take, when the
    /// caller gave no shorter deadline (`LOUYU_GATEWAY_UNARY_TIMEOUT`: `30s`).
    #[serde(deserialize_with = "crate::config::deserialize_duration")]
    pub unary_timeout: Duration,
    /// Browser origins allowed to call the gateway from their pages, with
    /// credentials (`LOUYU_GATEWAY_CORS_ORIGINS`, comma-separated, e.g.
    /// `https://screen.jingan.gov.cn`). Empty: no cross-origin call.
    pub cors_origins: Vec<String>,
    /// `Strict-Transport-Security: max-age` when the public URL is HTTPS
    /// (`LOUYU_GATEWAY_HSTS_MAX_AGE_SECONDS`; `0` sends none).
    pub hsts_max_age_seconds: u64,
}

impl Default for GatewayProtection {
    fn default() -> Self {
        Self {
            max_body_bytes: 4 * 1024 * 1024,
            rate_per_second: 50.0,
            rate_burst: 100,
            trusted_proxies: Vec::new(),
            max_in_flight: 256,
            max_streams: 1024,
            unary_timeout: Duration::from_secs(30),
            cors_origins: Vec::new(),
            hsts_max_age_seconds: 31_536_000,
        }
    }
}

impl GatewayProtection {
    /// Overrides settings from their `LOUYU_GATEWAY_*` variables; `text`
    /// gives a variable's value when it is set and not empty.
    pub fn apply_env(&mut self, text: &impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        if let Some(value) = text("LOUYU_GATEWAY_MAX_BODY_BYTES") {
            self.max_body_bytes = parse("LOUYU_GATEWAY_MAX_BODY_BYTES", &value)?;
        }
        if let Some(value) = text("LOUYU_GATEWAY_RATE_PER_SECOND") {
            self.rate_per_second = parse("LOUYU_GATEWAY_RATE_PER_SECOND", &value)?;
        }
        if let Some(value) = text("LOUYU_GATEWAY_RATE_BURST") {
            self.rate_burst = parse("LOUYU_GATEWAY_RATE_BURST", &value)?;
        }
        if let Some(value) = text("LOUYU_GATEWAY_TRUSTED_PROXIES") {
            self.trusted_proxies = comma_separated(&value);
        }
        if let Some(value) = text("LOUYU_GATEWAY_MAX_IN_FLIGHT") {
            self.max_in_flight = parse("LOUYU_GATEWAY_MAX_IN_FLIGHT", &value)?;
        }
        if let Some(value) = text("LOUYU_GATEWAY_MAX_STREAMS") {
            self.max_streams = parse("LOUYU_GATEWAY_MAX_STREAMS", &value)?;
        }
        if let Some(value) = text("LOUYU_GATEWAY_UNARY_TIMEOUT") {
            self.unary_timeout = crate::time::parse_duration(&value).ok_or_else(|| {
                anyhow::anyhow!(
                    "LOUYU_GATEWAY_UNARY_TIMEOUT has an invalid value: a duration with its unit, such as 30s"
                )
            })?;
        }
        if let Some(value) = text("LOUYU_GATEWAY_CORS_ORIGINS") {
            self.cors_origins = comma_separated(&value);
        }
        if let Some(value) = text("LOUYU_GATEWAY_HSTS_MAX_AGE_SECONDS") {
            self.hsts_max_age_seconds = parse("LOUYU_GATEWAY_HSTS_MAX_AGE_SECONDS", &value)?;
        }
        Ok(())
    }

    /// Refuses settings the gateway cannot apply, naming the variable.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.max_body_bytes > 0,
            "LOUYU_GATEWAY_MAX_BODY_BYTES must be positive"
        );
        anyhow::ensure!(
            self.rate_per_second.is_finite() && self.rate_per_second >= 0.0,
            "LOUYU_GATEWAY_RATE_PER_SECOND must be a number, 0 or more"
        );
        anyhow::ensure!(
            self.rate_burst > 0,
            "LOUYU_GATEWAY_RATE_BURST must be positive"
        );
        anyhow::ensure!(
            self.max_in_flight > 0,
            "LOUYU_GATEWAY_MAX_IN_FLIGHT must be positive"
        );
        anyhow::ensure!(
            self.max_streams > 0,
            "LOUYU_GATEWAY_MAX_STREAMS must be positive"
        );
        anyhow::ensure!(
            !self.unary_timeout.is_zero(),
            "LOUYU_GATEWAY_UNARY_TIMEOUT must be positive"
        );
        self.trusted_proxy_ranges()?;
        for origin in &self.cors_origins {
            check_origin(origin)?;
        }
        Ok(())
    }

    /// [`Self::trusted_proxies`], parsed.
    pub fn trusted_proxy_ranges(&self) -> anyhow::Result<Vec<IpRange>> {
        self.trusted_proxies
            .iter()
            .map(|proxy| {
                IpRange::parse(proxy).ok_or_else(|| {
                    anyhow::anyhow!(
                        "LOUYU_GATEWAY_TRUSTED_PROXIES: {proxy:?} is not an IP address or a CIDR range"
                    )
                })
            })
            .collect()
    }
}

/// An origin as browsers send it: `https://host[:port]`, nothing after.
fn check_origin(origin: &str) -> anyhow::Result<()> {
    let refused = || {
        anyhow::anyhow!(
            "LOUYU_GATEWAY_CORS_ORIGINS: {origin:?} is not an origin such as https://screen.example.gov.cn (a scheme and a host, no path, no *)"
        )
    };
    let uri: http::Uri = origin.parse().map_err(|_| refused())?;
    let bare = matches!(uri.scheme_str(), Some("http" | "https"))
        && uri.host().is_some_and(|host| !host.contains('*'))
        && uri.path_and_query().is_none_or(|path| path.as_str() == "/")
        && !origin.ends_with('/');
    anyhow::ensure!(bare, refused());
    Ok(())
}

fn comma_separated(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

fn parse<T: std::str::FromStr>(key: &str, value: &str) -> anyhow::Result<T> {
    value
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("{key} has an invalid value"))
}

/// An IP address or a CIDR range of them: `10.0.0.0/8`, `::1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
}

impl IpRange {
    pub fn parse(text: &str) -> Option<Self> {
        let (address, prefix) = match text.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text.trim(), None),
        };
        let network: IpAddr = address.parse().ok()?;
        let width = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix.parse().ok().filter(|prefix| *prefix <= width)?,
            None => width,
        };
        Some(Self { network, prefix })
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        let address = match address {
            IpAddr::V6(v6) if self.network.is_ipv4() => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => return false,
            },
            other => other,
        };
        match (self.network, address) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(network) & mask == u32::from(address) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(network) & mask == u128::from(address) & mask
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_env(pairs: &[(&str, &str)]) -> anyhow::Result<GatewayProtection> {
        let mut settings = GatewayProtection::default();
        settings.apply_env(&|key| {
            pairs
                .iter()
                .find(|(name, _)| *name == key)
                .map(|(_, value)| (*value).to_owned())
        })?;
        settings.validate()?;
        Ok(settings)
    }

    #[test]
    fn the_defaults_hold_and_validate() {
        let settings = from_env(&[]).unwrap();
        assert_eq!(settings.max_body_bytes, 4 * 1024 * 1024);
        assert!(settings.cors_origins.is_empty());
        assert!(settings.trusted_proxies.is_empty());
        assert_eq!(settings.unary_timeout, Duration::from_secs(30));
    }

    #[test]
    fn every_setting_comes_from_its_variable() {
        let settings = from_env(&[
            ("LOUYU_GATEWAY_MAX_BODY_BYTES", "1024"),
            ("LOUYU_GATEWAY_RATE_PER_SECOND", "0.5"),
            ("LOUYU_GATEWAY_RATE_BURST", "3"),
            ("LOUYU_GATEWAY_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.7"),
            ("LOUYU_GATEWAY_MAX_IN_FLIGHT", "2"),
            ("LOUYU_GATEWAY_MAX_STREAMS", "5"),
            ("LOUYU_GATEWAY_UNARY_TIMEOUT", "1500ms"),
            (
                "LOUYU_GATEWAY_CORS_ORIGINS",
                "https://screen.jingan.gov.cn,http://localhost:5173",
            ),
            ("LOUYU_GATEWAY_HSTS_MAX_AGE_SECONDS", "0"),
        ])
        .unwrap();
        assert_eq!(settings.max_body_bytes, 1024);
        assert_eq!(settings.rate_per_second, 0.5);
        assert_eq!(settings.rate_burst, 3);
        assert_eq!(settings.trusted_proxy_ranges().unwrap().len(), 2);
        assert_eq!(settings.max_in_flight, 2);
        assert_eq!(settings.max_streams, 5);
        assert_eq!(settings.unary_timeout, Duration::from_millis(1500));
        assert_eq!(settings.cors_origins.len(), 2);
        assert_eq!(settings.hsts_max_age_seconds, 0);
    }

    #[test]
    fn a_bad_value_is_refused_naming_its_variable() {
        for (key, value) in [
            ("LOUYU_GATEWAY_MAX_BODY_BYTES", "lots"),
            ("LOUYU_GATEWAY_MAX_BODY_BYTES", "0"),
            ("LOUYU_GATEWAY_RATE_PER_SECOND", "-1"),
            ("LOUYU_GATEWAY_RATE_PER_SECOND", "NaN"),
            ("LOUYU_GATEWAY_RATE_BURST", "0"),
            ("LOUYU_GATEWAY_TRUSTED_PROXIES", "10.0.0.0/33"),
            ("LOUYU_GATEWAY_TRUSTED_PROXIES", "proxy.internal"),
            ("LOUYU_GATEWAY_MAX_IN_FLIGHT", "0"),
            ("LOUYU_GATEWAY_MAX_STREAMS", "-3"),
            ("LOUYU_GATEWAY_UNARY_TIMEOUT", "30"),
            ("LOUYU_GATEWAY_CORS_ORIGINS", "*"),
            ("LOUYU_GATEWAY_CORS_ORIGINS", "https://screen.example/app"),
            ("LOUYU_GATEWAY_CORS_ORIGINS", "screen.example"),
        ] {
            let refused = from_env(&[(key, value)]).unwrap_err().to_string();
            assert!(refused.contains(key), "{key}={value}: {refused}");
        }
    }

    #[test]
    fn a_range_holds_the_addresses_of_its_prefix() {
        let range = IpRange::parse("10.1.0.0/16").unwrap();
        assert!(range.contains("10.1.200.3".parse().unwrap()));
        assert!(!range.contains("10.2.0.1".parse().unwrap()));
        assert!(range.contains("::ffff:10.1.0.9".parse().unwrap()));
        let one = IpRange::parse("2001:db8::1").unwrap();
        assert!(one.contains("2001:db8::1".parse().unwrap()));
        assert!(!one.contains("2001:db8::2".parse().unwrap()));
        assert!(
            IpRange::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
    }
}
