//! The platform's `config.py`, read as ciq needs it: the top-level assignment of a name
//! (the feature flag, `DATABASE_URI`, `GCP_INSTANCE_MAX_RUNTIME`, the broker URL).
//!
//! A small scanner follows strings (including triple-quoted ones), comments, brackets
//! and backslash continuations, so only a real top-level `NAME = …` statement counts —
//! never the name in a comment, a string or an indented block. `rollout::config_py`
//! edits the flag with the same scanner, keeping every other byte.

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

struct Line<'a> {
    body: &'a str,
}

/// Line bodies without their terminators (`\n` or `\r\n`).
pub(crate) fn bodies(text: &str) -> Vec<&str> {
    text.split_inclusive('\n')
        .map(|l| {
            l.strip_suffix("\r\n")
                .or_else(|| l.strip_suffix('\n'))
                .unwrap_or(l)
        })
        .collect()
}

/// One top-level assignment of the flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Assignment {
    pub line: usize,
    /// Byte range of the value inside the line's body.
    pub value: (usize, usize),
    /// The statement continues on the next line: ciq will not edit it.
    pub multiline: bool,
    /// Added by ciq (carries `ADDED_MARKER`).
    pub added: bool,
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

pub(crate) fn assignments(text: &str, flag: &str) -> Vec<Assignment> {
    let mut scan = Scan::default();
    let mut out = vec![];
    for (n, body) in bodies(text).into_iter().enumerate() {
        let l = Line { body };
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
    let all = bodies(text);
    match assignments(text, flag).last() {
        None => FlagValue::Missing,
        Some(a) if a.multiline => FlagValue::Other(format!("{}…", &all[a.line][a.value.0..])),
        Some(a) => match &all[a.line][a.value.0..a.value.1] {
            "True" => FlagValue::True,
            "False" => FlagValue::False,
            other => FlagValue::Other(other.to_string()),
        },
    }
}

/// A literal value of a top-level assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literal {
    Str(String),
    Int(i64),
    Bool(bool),
}

/// The value of `NAME = <literal>` (the last top-level assignment): a string, an integer
/// or True/False. `Err` names what is there when it is something else (an expression).
pub fn literal(text: &str, name: &str) -> Result<Option<Literal>, String> {
    let all = bodies(text);
    let Some(a) = assignments(text, name).pop() else {
        return Ok(None);
    };
    let v = all[a.line][a.value.0..a.value.1].trim();
    if a.multiline {
        return Err(format!(
            "{name} is assigned over several lines; ciq reads only a literal"
        ));
    }
    let unquoted = ['\'', '"'].iter().find_map(|q| {
        let inner = v.strip_prefix(*q)?.strip_suffix(*q)?;
        (!inner.contains(*q) && !inner.contains('\\')).then(|| inner.to_string())
    });
    if let Some(s) = unquoted {
        return Ok(Some(Literal::Str(s)));
    }
    match v {
        "True" => return Ok(Some(Literal::Bool(true))),
        "False" => return Ok(Some(Literal::Bool(false))),
        _ => {}
    }
    v.replace('_', "")
        .parse::<i64>()
        .map(|n| Some(Literal::Int(n)))
        .map_err(|_| format!("{name} is set by an expression ({v}); ciq reads only a literal"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_of_the_platform_config() {
        let t =
            "# DATABASE_URI = 'x'\nDATABASE_URI = 'mysql+pymysql://root:pw@localhost/sp'  # db\n\
                 GCP_INSTANCE_MAX_RUNTIME = 120\nTESTING = False\nX = os.environ['X']\n\
                 if A:\n    GCP_INSTANCE_MAX_RUNTIME = 1\nQ = \"it's\"\r\n";
        assert_eq!(
            literal(t, "DATABASE_URI").unwrap(),
            Some(Literal::Str("mysql+pymysql://root:pw@localhost/sp".into()))
        );
        assert_eq!(
            literal(t, "GCP_INSTANCE_MAX_RUNTIME").unwrap(),
            Some(Literal::Int(120))
        );
        assert_eq!(literal(t, "TESTING").unwrap(), Some(Literal::Bool(false)));
        assert_eq!(literal(t, "Q").unwrap(), Some(Literal::Str("it's".into())));
        assert_eq!(literal(t, "MISSING").unwrap(), None);
        assert!(literal(t, "X").unwrap_err().contains("expression"));
    }
}
