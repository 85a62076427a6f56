//! Keeps only the last bytes of a stream, so a chatty runner cannot fill memory or Redis.

/// Bytes of stdout and of stderr kept with a run's result.
pub const TAIL_BYTES: usize = 4096;

#[derive(Debug, Default)]
pub struct Tail {
    buf: Vec<u8>,
    dropped: bool,
}

impl Tail {
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
        if self.buf.len() > TAIL_BYTES {
            let cut = self.buf.len() - TAIL_BYTES;
            self.buf.drain(..cut);
            self.dropped = true;
        }
    }

    /// The kept text (lossy UTF-8), marked with `…` when the front was cut.
    pub fn text(&self) -> String {
        let s = String::from_utf8_lossy(&self.buf);
        if self.dropped {
            format!("…{}", s.trim_start_matches('\u{FFFD}'))
        } else {
            s.into_owned()
        }
    }
}

/// stdout, then stderr under a marker line when there is any.
pub fn combine(stdout: &str, stderr: &str) -> String {
    match (stdout.trim().is_empty(), stderr.trim().is_empty()) {
        (_, true) => stdout.trim_end().to_string(),
        (true, false) => format!("[stderr]\n{}", stderr.trim_end()),
        (false, false) => format!("{}\n[stderr]\n{}", stdout.trim_end(), stderr.trim_end()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_end() {
        let mut t = Tail::default();
        t.push(&vec![b'a'; TAIL_BYTES]);
        t.push(b"END");
        let s = t.text();
        assert!(s.starts_with('…') && s.ends_with("aEND"));
        assert_eq!(s.len(), TAIL_BYTES + '…'.len_utf8());
        assert_eq!(combine("out\n", ""), "out");
        assert_eq!(combine("", "err"), "[stderr]\nerr");
    }
}
