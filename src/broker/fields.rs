//! A hash's fields for the members of a sorted set (its tasks' runs or messages, its
//! workers' info), read in one HMGET.

use super::{Broker, Conn, Result};

impl Broker {
    /// `hash`'s field for each member of `members` (as read with their scores), in order;
    /// none where the hash has no such field.
    pub(super) async fn fields_of<S>(
        &self,
        c: &mut Conn,
        hash: &str,
        members: &[(String, S)],
    ) -> Result<Vec<Option<String>>> {
        let names: Vec<&str> = members.iter().map(|(m, _)| m.as_str()).collect();
        redis::cmd("HMGET")
            .arg(hash)
            .arg(&names)
            .query_async(c)
            .await
            .map_err(|e| self.err(e))
    }
}
