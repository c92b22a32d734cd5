//! The standard Helvetica fonts: how text is encoded for them and how wide it is.
//!
//! PDF viewers carry Helvetica and Helvetica-Bold, so nothing is embedded; text is written
//! in their WinAnsi encoding, and laid out with the widths Adobe publishes for them (the
//! AFM files, in thousandths of the font size). Characters outside WinAnsi become `?`.

/// Widths of the printable ASCII characters, space (32) to tilde (126), in Helvetica.
const REGULAR: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278,
    278, // space - /
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, // 0 - 9
    278, 278, 584, 584, 584, 556, 1015, // : ; < = > ? @
    667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, // A - M
    722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, // N - Z
    278, 278, 278, 469, 556, 333, // [ \ ] ^ _ `
    556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, // a - m
    556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, // n - z
    334, 260, 334, 584, // { | } ~
];

/// The same in Helvetica-Bold.
const BOLD: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278,
    278, // space - /
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, // 0 - 9
    333, 333, 584, 584, 584, 611, 975, // : ; < = > ? @
    722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, // A - M
    722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, // N - Z
    333, 278, 333, 584, 556, 333, // [ \ ] ^ _ `
    556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, // a - m
    611, 611, 611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, // n - z
    389, 280, 389, 584, // { | } ~
];

/// The two faces a document uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Face {
    Regular,
    Bold,
}

/// `text` in the standard fonts' WinAnsi encoding; what it cannot show becomes `?`.
#[must_use]
pub fn win_ansi(text: &str) -> Vec<u8> {
    text.chars().map(win_ansi_byte).collect()
}

fn win_ansi_byte(c: char) -> u8 {
    match c {
        '‘' => 0x91,
        '’' => 0x92,
        '“' => 0x93,
        '”' => 0x94,
        '•' => 0x95,
        '–' => 0x96,
        '—' => 0x97,
        '…' => 0x85,
        '€' => 0x80,
        c if (' '..='~').contains(&c) || ('\u{a0}'..='\u{ff}').contains(&c) => {
            u8::try_from(u32::from(c)).unwrap_or(b'?')
        }
        _ => b'?',
    }
}

/// The width of one WinAnsi byte, in thousandths of the font size. Bytes beyond ASCII
/// (accented letters, `£`, dashes) take a lower-case letter's width, near enough for layout.
fn byte_width(byte: u8, face: Face) -> u16 {
    let table = match face {
        Face::Regular => &REGULAR,
        Face::Bold => &BOLD,
    };
    match byte {
        32..=126 => table[usize::from(byte - 32)],
        0x96 => 556,
        0x97 => 1000,
        _ => table[usize::from(b'o' - 32)],
    }
}

/// The width of `text` set in `face` at `size` points, in points.
#[must_use]
pub fn width(text: &str, face: Face, size: f32) -> f32 {
    let thousandths: u32 = text
        .chars()
        .map(|c| u32::from(byte_width(win_ansi_byte(c), face)))
        .sum();
    #[allow(clippy::cast_precision_loss, reason = "a line is a few thousand units")]
    let units = thousandths as f32;
    units * size / 1000.0
}

/// `text` broken into lines no wider than `max` points: at spaces where it can, inside a
/// word when one word is wider than a line. Line breaks in the text are kept; an empty
/// text is one empty line.
#[must_use]
pub fn wrap(text: &str, face: Face, size: f32, max: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split(' ').filter(|w| !w.is_empty()) {
            let candidate = if line.is_empty() {
                word.to_owned()
            } else {
                format!("{line} {word}")
            };
            if width(&candidate, face, size) <= max {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // The word alone: split it where it overflows.
            for c in word.chars() {
                line.push(c);
                if width(&line, face, size) > max && line.chars().count() > 1 {
                    line.pop();
                    lines.push(std::mem::take(&mut line));
                    line.push(c);
                }
            }
        }
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_outside_win_ansi_is_replaced() {
        assert_eq!(win_ansi("Zoë’s – ok"), b"Zo\xeb\x92s \x96 ok".to_vec());
        assert_eq!(win_ansi("日本"), b"??".to_vec());
    }

    #[test]
    fn widths_follow_the_font_metrics() {
        // "Hi" in Helvetica: H 722 + i 222 at 10 pt.
        assert!((width("Hi", Face::Regular, 10.0) - 9.44).abs() < 1e-4);
        assert!(width("Hi", Face::Bold, 10.0) > width("Hi", Face::Regular, 10.0));
    }

    #[test]
    fn wraps_at_spaces_and_inside_long_words() {
        let lines = wrap("the quick brown fox", Face::Regular, 10.0, 45.0);
        assert_eq!(lines, ["the quick", "brown fox"]);
        for line in &lines {
            assert!(width(line, Face::Regular, 10.0) <= 45.0);
        }
        let long = wrap("abcdefghijklmnopqrstuvwxyz", Face::Regular, 10.0, 40.0);
        assert!(long.len() > 1);
        assert_eq!(long.concat(), "abcdefghijklmnopqrstuvwxyz");
        assert_eq!(wrap("one\ntwo", Face::Regular, 10.0, 500.0), ["one", "two"]);
        assert_eq!(wrap("", Face::Regular, 10.0, 500.0), [""]);
    }
}
