//! URL checks shared by every URL field: the shape of a Redis address and credentials that
//! must not be written into a pod spec or an alert as text. Patterns come from
//! `api::rules`, which also puts them in the CRDs' CEL rules.

use std::sync::OnceLock;

use regex::Regex;

use crate::api::rules::{REDIS_SHAPE_PATTERN, USERINFO_PATTERN, secret_query_pattern};

fn compiled(cell: &'static OnceLock<Regex>, pattern: impl FnOnce() -> String) -> &'static Regex {
    cell.get_or_init(|| Regex::new(&pattern()).expect("the CRD patterns compile"))
}

/// `user[:password]@` before the host.
pub(crate) fn has_userinfo(url: &str) -> bool {
    static RE: OnceLock<Regex> = OnceLock::new();
    compiled(&RE, || USERINFO_PATTERN.into()).is_match(url)
}

/// A query parameter named like a password, token or key.
pub(crate) fn has_secret_query(url: &str) -> bool {
    static RE: OnceLock<Regex> = OnceLock::new();
    compiled(&RE, secret_query_pattern).is_match(url)
}

/// `redis[s]://host[:port][/db]` and nothing more.
pub(crate) fn is_redis_address(url: &str) -> bool {
    static RE: OnceLock<Regex> = OnceLock::new();
    compiled(&RE, || REDIS_SHAPE_PATTERN.into()).is_match(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_found_in_userinfo_and_query() {
        assert!(has_userinfo("redis://:pw@host:6379"));
        assert!(has_userinfo("https://user:tok@collector:4318/v1/traces"));
        assert!(!has_userinfo("https://collector:4318/a@b"));
        assert!(!has_userinfo("https://collector:4318/?to=a@b"));
        for url in [
            "https://c/?password=x",
            "https://c/?a=1&TOKEN=x",
            "https://c/?api_key=x",
            "https://c/?x-api-key=x",
            "https://c/?sig",
        ] {
            assert!(has_secret_query(url), "{url}");
        }
        for url in [
            "https://c/?keyboard=x",
            "https://c/password=x",
            "https://c/?a=token",
        ] {
            assert!(!has_secret_query(url), "{url}");
        }
    }

    #[test]
    fn redis_addresses_are_host_port_and_db() {
        for ok in [
            "redis://redis:6379",
            "rediss://r.ns.svc:6380/2",
            "redis://[::1]:6379",
        ] {
            assert!(is_redis_address(ok), "{ok}");
        }
        for bad in [
            "redis://:pw@r:6379",
            "redis://r:6379/0?password=x",
            "redis://r/a/b",
        ] {
            assert!(!is_redis_address(bad), "{bad}");
        }
    }
}
