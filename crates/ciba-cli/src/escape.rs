//! Client-supplied text (`login_hint`, `binding_message`, subjects) made safe to print on a
//! terminal: whatever could move the cursor, recolour the screen or reorder what follows is
//! shown as a visible escape instead.
//!
//! Escaped: control characters (C0, DEL, C1: `\n`, `\t`, `\r` and `\u{1b}` among them), the
//! bidirectional embeddings, overrides, isolates and marks (U+202A-U+202E, U+2066-U+2069,
//! U+200E, U+200F, U+061C), the zero-width characters (U+200B-U+200D, U+2060, U+FEFF), the
//! line and paragraph separators (U+2028, U+2029), and the backslash and the double quote
//! (so a quoted value cannot end early). Everything else, right-to-left letters included,
//! is printed as it is.

use std::fmt::Write as _;

/// True when `c` is printed as an escape (see the module docs).
pub(crate) fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{061C}'
                | '\u{200B}'..='\u{200D}'
                | '\u{2060}'
                | '\u{FEFF}'
                | '\u{2028}'
                | '\u{2029}'
                | '\\'
                | '"'
        )
}

/// `text` with every character [`needs_escape`] names written as `\n`, `\t`, `\r`, `\\`,
/// `\"` or `\u{XXXX}`.
pub(crate) fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:04x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// `text` escaped and in double quotes, for a log line.
pub(crate) fn quoted(text: &str) -> String {
    format!("\"{}\"", escaped(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_and_right_to_left_letters_are_kept() {
        assert_eq!(escaped("alice@example.com"), "alice@example.com");
        assert_eq!(escaped("W4SCT 12"), "W4SCT 12");
        assert_eq!(escaped("\u{05E9}\u{05DC}\u{05D5}\u{05DD}"), "שלום");
        assert_eq!(escaped("café ✓"), "café ✓");
    }

    #[test]
    fn terminal_controls_are_escaped() {
        assert_eq!(escaped("a\nb\tc\rd"), "a\\nb\\tc\\rd");
        assert_eq!(escaped("\u{1b}[31mred"), "\\u{001b}[31mred");
        assert_eq!(escaped("\u{7f}\u{85}\u{9b}"), "\\u{007f}\\u{0085}\\u{009b}");
        assert_eq!(escaped("\0"), "\\u{0000}");
    }

    #[test]
    fn bidirectional_and_zero_width_characters_are_escaped() {
        assert_eq!(escaped("abc\u{202E}fed"), "abc\\u{202e}fed");
        for c in [
            '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}',
            '\u{2068}', '\u{2069}', '\u{200E}', '\u{200F}', '\u{061C}', '\u{200B}', '\u{200C}',
            '\u{200D}', '\u{2060}', '\u{FEFF}', '\u{2028}', '\u{2029}',
        ] {
            let out = escaped(&c.to_string());
            assert_eq!(out, format!("\\u{{{:04x}}}", u32::from(c)));
            assert!(out.is_ascii());
        }
    }

    #[test]
    fn quotes_and_backslashes_cannot_end_a_quoted_value() {
        assert_eq!(quoted("a\"b\\c"), "\"a\\\"b\\\\c\"");
    }
}
