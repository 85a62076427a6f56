//! Line handling that keeps every byte: each line with its own terminator, so an edit
//! of one line leaves CRLF endings, a missing final newline and everything else as is.

/// One line: its content and its terminator ("\n", "\r\n" or "" for a last line without one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    pub body: &'a str,
    pub end: &'a str,
}

/// Splits keeping terminators; joining `body + end` of every line gives `text` back.
pub fn lines(text: &str) -> Vec<Line<'_>> {
    let mut out = vec![];
    let mut rest = text;
    while !rest.is_empty() {
        match rest.find('\n') {
            Some(i) => {
                let (line, tail) = rest.split_at(i + 1);
                let (body, end) = match line.strip_suffix("\r\n") {
                    Some(b) => (b, "\r\n"),
                    None => (&line[..i], "\n"),
                };
                out.push(Line { body, end });
                rest = tail;
            }
            None => {
                out.push(Line {
                    body: rest,
                    end: "",
                });
                rest = "";
            }
        }
    }
    out
}

/// The terminator to use for a new line: CRLF when the file already uses it.
pub fn newline_of(text: &str) -> &'static str {
    if text.contains("\r\n") {
        "\r\n"
    } else {
        "\n"
    }
}

/// A unified diff of two texts, for plans (empty when equal).
pub fn diff(label: &str, old: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(2)
        .header(&format!("{label} (now)"), &format!("{label} (after)"))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip() {
        for t in ["", "a", "a\n", "a\r\nb", "a\n\nb\r\n", "\r\n"] {
            let joined: String = lines(t)
                .iter()
                .map(|l| format!("{}{}", l.body, l.end))
                .collect();
            assert_eq!(joined, t);
        }
        assert_eq!(
            lines("x\r\ny")[0],
            Line {
                body: "x",
                end: "\r\n"
            }
        );
        assert_eq!(newline_of("a\r\nb"), "\r\n");
    }
}
