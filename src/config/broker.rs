//! `broker` in `ciq.toml`: a URL string, or a `[broker]` table with the URL and the
//! options of replicated topologies (Sentinel credentials, acknowledged writes).
//!
//! ```toml
//! [broker]
//! url = "redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster/0"
//! min_replicas = 1               # = the replica count: WAIT on enqueue, claim, renewal, outcome
//! min_replicas_timeout = "500ms"
//! sentinel_username = "ciq"      # ACL user on the sentinels, if any
//! sentinel_password_file = "/etc/ciq/sentinel-password"
//! ```

use super::duration::Dur;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerTable {
    pub url: Option<String>,
    pub min_replicas: Option<u32>,
    pub min_replicas_timeout: Option<Dur>,
    pub sentinel_username: Option<String>,
    /// File holding the sentinels' password (first line).
    pub sentinel_password_file: Option<String>,
}

/// Deserializes `broker = "url"` and `[broker] url = …` alike.
pub fn url_or_table<'de, D: Deserializer<'de>>(d: D) -> Result<Option<BrokerTable>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = BrokerTable;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a broker URL string or a [broker] table")
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<BrokerTable, E> {
            Ok(BrokerTable {
                url: Some(s.to_string()),
                ..Default::default()
            })
        }
        fn visit_map<M: MapAccess<'de>>(self, m: M) -> Result<BrokerTable, M::Error> {
            BrokerTable::deserialize(de::value::MapAccessDeserializer::new(m))
        }
    }
    d.deserialize_any(V).map(Some)
}
