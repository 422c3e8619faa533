//! Characters a reader cannot see that change how the text around them reads: the
//! bidirectional controls (U+202E turns `gnp.exe` into what looks like `exe.png`), zero-width
//! characters, and every other format character (Unicode category Cf). Every output shows
//! them instead of obeying them: as an escape (`\u{202e}`) in text, as a marked code point in
//! HTML. A zero-width joiner between two emoji is left alone: it is how 👩‍💻 is written.

use std::borrow::Cow;
use std::fmt::Write as _;

use unicode_general_category::{GeneralCategory, get_general_category};

const ZWJ: char = '\u{200d}';
/// Emoji presentation selector: it may stand between an emoji and the joiner after it.
const VS16: char = '\u{fe0f}';

/// A format character (Cf): invisible, and able to reorder, hide or join what is around it.
pub fn is_format(c: char) -> bool {
    !c.is_ascii() && get_general_category(c) == GeneralCategory::Format
}

/// The blocks emoji come from (pictographs, symbols, dingbats, arrows, transport, …): enough
/// to tell a joiner inside an emoji sequence from one between letters.
fn is_pictographic(c: char) -> bool {
    matches!(u32::from(c), 0x2190..=0x21ff | 0x2300..=0x23ff | 0x2600..=0x27bf | 0x2b00..=0x2bff | 0x1f000..=0x1faff)
}

/// The characters of `text` with their byte offsets, each with whether it is to be shown
/// rather than obeyed: every format character but a joiner between two emoji.
pub fn chars(text: &str) -> impl Iterator<Item = (usize, char, bool)> + '_ {
    let mut before: Option<char> = None;
    let mut iter = text.char_indices().peekable();
    std::iter::from_fn(move || {
        let (at, c) = iter.next()?;
        let shown = is_format(c)
            && !(c == ZWJ
                && before.is_some_and(is_pictographic)
                && iter.peek().is_some_and(|(_, next)| is_pictographic(*next)));
        if c != VS16 {
            before = Some(c);
        }
        Some((at, c, shown))
    })
}

/// Whether `text` holds a character [`chars`] shows.
pub fn has_hidden(text: &str) -> bool {
    chars(text).any(|(_, _, shown)| shown)
}

/// `\u{202e}`: how a character is shown in text outputs.
pub fn escape_char(out: &mut String, c: char) {
    let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
}

/// `U+202E`: how a character is named on a page.
pub fn code_point(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

/// `text` with each character [`chars`] shows written as `\u{…}`; control characters are the
/// caller's.
pub fn escape_hidden(text: &str) -> Cow<'_, str> {
    if !has_hidden(text) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for (_, c, shown) in chars(text) {
        if shown {
            escape_char(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidi_controls_and_invisible_characters_are_shown() {
        for c in [
            '\u{200e}',
            '\u{200f}',
            '\u{202a}',
            '\u{202b}',
            '\u{202c}',
            '\u{202d}',
            '\u{202e}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{61c}',
            '\u{200b}',
            '\u{2060}',
            '\u{feff}',
            '\u{ad}',
            '\u{e0041}',
        ] {
            assert!(is_format(c), "{}", code_point(c));
            let text = format!("a{c}b");
            assert_eq!(escape_hidden(&text), format!("a\\u{{{:x}}}b", u32::from(c)));
        }
        assert_eq!(escape_hidden("\u{202e}gnp.exe"), "\\u{202e}gnp.exe");
        assert_eq!(code_point('\u{202e}'), "U+202E");
    }

    #[test]
    fn plain_text_and_emoji_sequences_pass_unchanged() {
        for text in [
            "hello, world",
            "שלום עולם",
            "مرحبا",
            "日本語",
            "👩\u{200d}💻",
            "🏳\u{fe0f}\u{200d}🌈",
            "❤\u{fe0f}\u{200d}🔥",
            "👨\u{200d}👩\u{200d}👧",
            "\u{1b}[31m",
        ] {
            assert!(matches!(escape_hidden(text), Cow::Borrowed(_)), "{text}");
        }
    }

    #[test]
    fn a_joiner_outside_an_emoji_sequence_is_shown() {
        assert_eq!(escape_hidden("a\u{200d}b"), "a\\u{200d}b");
        assert_eq!(escape_hidden("👩\u{200d}"), "👩\\u{200d}");
        assert_eq!(escape_hidden("\u{200d}💻"), "\\u{200d}💻");
    }
}
