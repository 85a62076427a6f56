//! The platform's `config.py`: read and set the top-level assignment of the feature flag.
//!
//! A small scanner follows strings (including triple-quoted ones), comments, brackets
//! and backslash continuations, so only a real top-level `FLAG = …` statement counts —
//! never the flag named in a comment, a string or an indented block. An edit replaces
//! only the value token; every other byte (CRLF, no final newline, comments) is kept.

use super::text::{lines, newline_of};
use serde::Serialize;

/// Appended after a flag line ciq had to add, so that setting False removes it again.
pub const ADDED_MARKER: &str = "# added by ciq";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "expr")]
pub enum FlagValue {
    True,
    False,
    /// No top-level assignment: the platform's default (False).
    Missing,
    /// Assigned something ciq cannot read (an expression).
    Other(String),
}

impl FlagValue {
    /// The value the platform sees, when ciq can tell.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            FlagValue::True => Some(true),
            FlagValue::False | FlagValue::Missing => Some(false),
            FlagValue::Other(_) => None,
        }
    }
    pub fn describe(&self) -> String {
        match self {
            FlagValue::True => "True".into(),
            FlagValue::False => "False".into(),
            FlagValue::Missing => "not set (False)".into(),
            FlagValue::Other(e) => format!("an expression ({e})"),
        }
    }
}

/// One top-level assignment of the flag.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Assignment {
    line: usize,
    /// Byte range of the value inside the line's body.
    value: (usize, usize),
    /// The statement continues on the next line: ciq will not edit it.
    multiline: bool,
    /// Added by ciq (carries `ADDED_MARKER`).
    added: bool,
}

#[derive(Default)]
struct Scan {
    triple: Option<&'static str>,
    depth: u32,
    cont: bool,
}

impl Scan {
    fn at_statement_start(&self) -> bool {
        self.triple.is_none() && self.depth == 0 && !self.cont
    }

    /// Advances over one line body; returns where a comment starts, if any.
    fn line(&mut self, body: &str) -> Option<usize> {
        let b = body.as_bytes();
        let mut i = 0;
        self.cont = false;
        if let Some(q) = self.triple {
            match body.find(q) {
                Some(p) => {
                    self.triple = None;
                    i = p + 3;
                }
                None => return None,
            }
        }
        while i < b.len() {
            match b[i] {
                b'#' => return Some(i),
                b'\\' if i + 1 == b.len() => self.cont = true,
                q @ (b'\'' | b'"') => {
                    let triple: &'static str = if q == b'\'' { "'''" } else { "\"\"\"" };
                    if body[i..].starts_with(triple) {
                        match body[i + 3..].find(triple) {
                            Some(p) => i += 3 + p + 2,
                            None => {
                                self.triple = Some(triple);
                                return None;
                            }
                        }
                    } else {
                        let mut j = i + 1;
                        while j < b.len() && b[j] != q {
                            j += if b[j] == b'\\' { 2 } else { 1 };
                        }
                        if j >= b.len() && body.ends_with('\\') {
                            self.cont = true;
                        }
                        i = j;
                    }
                }
                b'(' | b'[' | b'{' => self.depth += 1,
                b')' | b']' | b'}' => self.depth = self.depth.saturating_sub(1),
                _ => {}
            }
            i += 1;
        }
        None
    }
}

fn is_ident(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphanumeric()
}

/// Where the value of `FLAG = value` starts, if this line body is such an assignment.
fn value_start(body: &str, flag: &str) -> Option<usize> {
    let rest = body.strip_prefix(flag)?;
    let b = rest.as_bytes();
    if b.first().is_some_and(|c| is_ident(*c)) {
        return None;
    }
    let mut i = 0;
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    if b.get(i) == Some(&b':') {
        // An annotation: `FLAG: bool = True`.
        i += rest[i..].find('=')?;
    }
    if b.get(i) != Some(&b'=') || b.get(i + 1) == Some(&b'=') {
        return None;
    }
    i += 1;
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    Some(flag.len() + i)
}

fn assignments(text: &str, flag: &str) -> Vec<Assignment> {
    let mut scan = Scan::default();
    let mut out = vec![];
    for (n, l) in lines(text).iter().enumerate() {
        let body = if n == 0 {
            l.body.strip_prefix('\u{feff}').unwrap_or(l.body)
        } else {
            l.body
        };
        let offset = l.body.len() - body.len();
        let start = if scan.at_statement_start() {
            value_start(body, flag)
        } else {
            None
        };
        let comment = scan.line(body);
        if let Some(s) = start {
            let end = comment.unwrap_or(body.len());
            let mut end = s.max(s + body[s..end].trim_end().len());
            // `FLAG = True; OTHER = 1`: the value stops at the semicolon.
            if let Some(p) = body[s..end].find(';') {
                let v = body[s..s + p].trim_end();
                if v == "True" || v == "False" {
                    end = s + v.len();
                }
            }
            out.push(Assignment {
                line: n,
                value: (offset + s, offset + end),
                multiline: !scan.at_statement_start(),
                added: comment.is_some_and(|c| body[c..].starts_with(ADDED_MARKER)),
            });
        }
    }
    out
}

/// The flag's value as the platform would see it (the last top-level assignment wins).
pub fn read(text: &str, flag: &str) -> FlagValue {
    let all = lines(text);
    match assignments(text, flag).last() {
        None => FlagValue::Missing,
        Some(a) if a.multiline => FlagValue::Other(format!("{}…", &all[a.line].body[a.value.0..])),
        Some(a) => match &all[a.line].body[a.value.0..a.value.1] {
            "True" => FlagValue::True,
            "False" => FlagValue::False,
            other => FlagValue::Other(other.to_string()),
        },
    }
}

/// The file text with the flag set; unchanged text when it already has that value.
pub fn set(text: &str, flag: &str, value: bool) -> Result<String, String> {
    let found = assignments(text, flag);
    if let Some(a) = found.iter().find(|a| a.multiline) {
        return Err(format!(
            "line {}: {flag} is assigned over several lines; set it by hand",
            a.line + 1
        ));
    }
    let all = lines(text);
    if let Some(a) = found.iter().find(|a| {
        let v = &all[a.line].body[a.value.0..a.value.1];
        v != "True" && v != "False"
    }) {
        return Err(format!(
            "line {}: {flag} is set by an expression ({}); ciq will not overwrite it — set it to True or False by hand",
            a.line + 1,
            &all[a.line].body[a.value.0..a.value.1]
        ));
    }
    let word = if value { "True" } else { "False" };
    if found.is_empty() {
        if !value {
            return Ok(text.to_string());
        }
        let nl = newline_of(text);
        let line = format!("{flag} = True  {ADDED_MARKER}");
        return Ok(if text.is_empty() || text.ends_with('\n') {
            format!("{text}{line}{nl}")
        } else {
            format!("{text}{nl}{line}")
        });
    }
    let mut out = String::with_capacity(text.len() + 8);
    for (n, l) in all.iter().enumerate() {
        match found.iter().find(|a| a.line == n) {
            Some(a) if a.added && !value => {
                if l.end.is_empty() {
                    // Appended after a last line without newline: take that newline back.
                    let keep = out.len() - all.get(n.wrapping_sub(1)).map_or(0, |p| p.end.len());
                    out.truncate(keep);
                }
            }
            Some(a) => {
                out.push_str(&l.body[..a.value.0]);
                out.push_str(word);
                out.push_str(&l.body[a.value.1..]);
                out.push_str(l.end);
            }
            None => {
                out.push_str(l.body);
                out.push_str(l.end);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: &str = "USE_CELERY_TASKS";

    #[test]
    fn only_the_top_level_assignment_changes() {
        let t = "# USE_CELERY_TASKS = True in a comment\r\n\
                 DOC = \"\"\"\r\nUSE_CELERY_TASKS = True\r\n\"\"\"\r\n\
                 S = 'USE_CELERY_TASKS = True'\r\n\
                 if X:\r\n    USE_CELERY_TASKS = True\r\n\
                 D = {\r\nUSE_CELERY_TASKS: 1}\r\n\
                 USE_CELERY_TASKS_OLD = True\r\n\
                 USE_CELERY_TASKS = False  # the switch\r\n\
                 OTHER = 1";
        assert_eq!(read(t, F), FlagValue::False);
        let on = set(t, F, true).unwrap();
        assert_eq!(on, t.replace("= False  # the", "= True  # the"));
        assert_eq!(read(&on, F), FlagValue::True);
        assert_eq!(set(&on, F, false).unwrap(), t);
    }

    #[test]
    fn missing_flag_is_appended_and_removed_exactly() {
        for t in ["", "A = 1", "A = 1\n", "A = 1\r\nB = 2"] {
            assert_eq!(read(t, F), FlagValue::Missing);
            let on = set(t, F, true).unwrap();
            assert_eq!(read(&on, F), FlagValue::True, "{on:?}");
            assert_eq!(set(&on, F, false).unwrap(), t);
            assert_eq!(set(t, F, false).unwrap(), t);
        }
        assert_eq!(
            set("A = 1\r\n", F, true).unwrap(),
            "A = 1\r\nUSE_CELERY_TASKS = True  # added by ciq\r\n"
        );
    }

    #[test]
    fn annotations_expressions_and_continuations() {
        assert_eq!(read("USE_CELERY_TASKS: bool = True\n", F), FlagValue::True);
        assert_eq!(
            read("USE_CELERY_TASKS = os.environ.get('X') == '1'\n", F),
            FlagValue::Other("os.environ.get('X') == '1'".into())
        );
        assert!(set("USE_CELERY_TASKS = os.environ.get('X')\n", F, false)
            .unwrap_err()
            .contains("expression"));
        assert_eq!(
            set("USE_CELERY_TASKS = True; A = 1\n", F, false).unwrap(),
            "USE_CELERY_TASKS = False; A = 1\n"
        );
        assert_eq!(read("USE_CELERY_TASKS == True\n", F), FlagValue::Missing);
        let multi = "USE_CELERY_TASKS = (\n    True)\n";
        assert!(set(multi, F, false).unwrap_err().contains("several lines"));
        assert_eq!(
            read("X = 1 \\\nUSE_CELERY_TASKS = True\n", F),
            FlagValue::Missing
        );
    }
}
