//! The ad-copy check of China's Advertising Law: product text may not use absolute terms.
//! The list lives in one data file, `shared/domain/data/ad_banned_words.txt`.

const WORDS: &str = include_str!("../data/ad_banned_words.txt");

pub fn banned_words() -> impl Iterator<Item = &'static str> {
    WORDS.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// The banned terms found in `texts`, each once, in list order. Latin letters compare
/// case-insensitively so "NO.1" style variants of a term are caught too.
pub fn violations<'a>(texts: impl IntoIterator<Item = &'a str>) -> Vec<&'static str> {
    let joined: String = texts.into_iter().collect::<Vec<_>>().join("\n").to_lowercase();
    banned_words().filter(|w| joined.contains(&w.to_lowercase())).collect()
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
        assert!(violations(["新疆阿克苏苹果 5斤装", "脆甜多汁"]).is_empty());
    }

    #[test]
    fn list_loads_without_comments() {
        let all: Vec<_> = banned_words().collect();
        assert!(all.contains(&"最高级") && all.contains(&"第一"));
        assert!(all.iter().all(|w| !w.starts_with('#')));
    }
}
