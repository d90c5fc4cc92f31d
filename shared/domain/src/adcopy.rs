//! The ad-copy check of China's Advertising Law: product text may not use absolute terms.
//! The list lives in one data file, `shared/domain/data/ad_banned_words.txt`.
//!
//! Text is normalised before it is matched, so spacing a term out, hiding zero-width
//! characters in it, writing it in full-width forms or in traditional characters does not
//! slip it past: NFKC, lower case, no white space or invisible format characters, and the
//! traditional forms of the characters the list uses read as simplified.

use unicode_normalization::UnicodeNormalization;

const WORDS: &str = include_str!("../data/ad_banned_words.txt");

pub fn banned_words() -> impl Iterator<Item = &'static str> {
    WORDS.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// Traditional → simplified for every character of the banned list that has a traditional
/// form (a test holds the table to the list).
const TRADITIONAL: &[(char, char)] = &[
    ('國', '国'),
    ('級', '级'),
    ('優', '优'),
    ('價', '价'),
    ('進', '进'),
    ('個', '个'),
    ('頂', '顶'),
    ('極', '极'),
    ('獨', '独'),
    ('無', '无'),
    ('絕', '绝'),
    ('僅', '仅'),
    ('萬', '万'),
    ('網', '网'),
    ('專', '专'),
];

/// Characters that take no room on screen: zero-width spaces and joiners, direction marks,
/// the word joiner family, the byte-order mark, the soft hyphen.
fn invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
}

/// The text as the check reads it.
pub fn normalise(text: &str) -> String {
    text.nfkc()
        .flat_map(char::to_lowercase)
        .filter(|c| !c.is_whitespace() && !invisible(*c))
        .map(|c| TRADITIONAL.iter().find(|(t, _)| *t == c).map_or(c, |(_, s)| *s))
        .collect()
}

/// The banned terms found in `texts`, each once, in list order.
pub fn violations<'a>(texts: impl IntoIterator<Item = &'a str>) -> Vec<&'static str> {
    // Texts are checked one by one, so a term is never made of the end of one field and the
    // start of the next.
    let texts: Vec<String> = texts.into_iter().map(normalise).collect();
    banned_words()
        .filter(|w| {
            let w = normalise(w);
            texts.iter().any(|t| t.contains(&w))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_each_term_once() {
        let v = violations(["国家级品质，最佳口感", "真正的国家级"]);
        assert_eq!(v, vec!["国家级", "最佳"]);
    }

    #[test]
    fn clean_text_passes() {
        assert!(violations(["新疆阿克苏苹果 5斤装", "脆甜多汁", "价格下调1.00%", "第二件半价"]).is_empty());
    }

    #[test]
    fn list_loads_without_comments() {
        let all: Vec<_> = banned_words().collect();
        assert!(all.contains(&"最高级") && all.contains(&"第一"));
        assert!(all.iter().all(|w| !w.starts_with('#')));
    }

    /// Ways people write a banned term so that a plain substring check misses it.
    #[test]
    fn bypass_attempts_are_caught() {
        for (_, text, term) in [
            ("spaces between the characters", "国 家 级", "国家级"),
            ("ideographic spaces", "国\u{3000}家\u{3000}级", "国家级"),
            ("tabs and line breaks", "国\t家\n级", "国家级"),
            ("a zero-width space", "最\u{200B}佳", "最佳"),
            ("a zero-width joiner", "最\u{200D}好", "最好"),
            ("a word joiner", "最\u{2060}优", "最优"),
            ("a byte-order mark and a zero-width non-joiner", "最\u{FEFF}低\u{200C}价", "最低价"),
            ("traditional characters", "國家級", "国家级"),
            ("traditional characters", "最優", "最优"),
            ("traditional characters", "全網最低", "全网最低"),
            ("traditional characters", "獨一無二", "独一无二"),
            ("traditional characters", "絕無僅有", "绝无仅有"),
            ("traditional characters", "萬能", "万能"),
            ("traditional characters", "頂級", "顶级"),
            ("full-width digits and percent sign", "１００％", "100%"),
            ("full-width digits with a space", "１００ %", "100%"),
            ("a soft hyphen", "第\u{00AD}一", "第一"),
            ("a right-to-left override", "唯\u{202E}一", "唯一"),
        ] {
            assert_eq!(violations([text]), vec![term], "{text:?}");
        }
    }

    #[test]
    fn every_traditional_form_of_the_list_is_mapped() {
        // Characters of the list that have a traditional form other than themselves.
        let simplified: Vec<char> = TRADITIONAL.iter().map(|(_, s)| *s).collect();
        for (t, s) in TRADITIONAL {
            assert_ne!(t, s);
            assert_eq!(normalise(&t.to_string()), s.to_string());
        }
        for w in banned_words() {
            for c in ['国', '级', '优', '价', '进', '个', '顶', '极', '独', '无', '绝', '仅', '万', '网']
            {
                if w.contains(c) {
                    assert!(simplified.contains(&c), "{c} of {w} has no traditional form listed");
                }
            }
        }
    }
}
