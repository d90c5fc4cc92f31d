//! Text analysis: what a title or a query is broken into. Chinese runs go through jieba (its
//! search mode, which also gives the shorter words inside a long one: 连衣裙 → 连衣, 衣裙,
//! 连衣裙) and single characters; Latin runs are lower-cased words. Each Chinese word also
//! has its pinyin and initials (连衣裙 → lianyiqun, lyq), which a query typed in pinyin, or
//! with a character of the same sound (连衣群), matches.

use std::sync::OnceLock;

use jieba_rs::Jieba;
use pinyin::ToPinyin;

/// jieba's dictionary without its rarest words (`scripts/search-dict.py`), compressed.
const DICTIONARY: &[u8] = include_bytes!("dict.zlib");

/// jieba with the shop's dictionary, loaded once per process. Should the embedded dictionary
/// not load (it is checked by a test), jieba segments with its HMM alone.
pub fn jieba() -> &'static Jieba {
    static JIEBA: OnceLock<Jieba> = OnceLock::new();
    JIEBA.get_or_init(|| {
        let mut words = String::new();
        let read = std::io::Read::read_to_string(&mut flate2::read::ZlibDecoder::new(DICTIONARY), &mut words);
        let mut jieba = Jieba::empty();
        if read.is_err() || jieba.load_dict(&mut std::io::BufReader::new(words.as_bytes())).is_err() {
            tracing::error!("search's dictionary did not load; segmenting without it");
        }
        jieba
    })
}

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{4e00}'..='\u{9fff}' | '\u{3400}'..='\u{4dbf}')
}

/// A run of text of one script.
#[derive(Debug, Clone, PartialEq)]
pub enum Run {
    Chinese(String),
    Latin(String),
}

/// Splits text into Chinese runs and Latin words (letters and digits), lower-cased; anything
/// else separates.
pub fn runs(text: &str) -> Vec<Run> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chinese = false;
    let flush = |cur: &mut String, chinese: bool, out: &mut Vec<Run>| {
        if !cur.is_empty() {
            let s = std::mem::take(cur);
            out.push(if chinese { Run::Chinese(s) } else { Run::Latin(s) });
        }
    };
    for c in text.chars().flat_map(char::to_lowercase) {
        if is_cjk(c) {
            if !chinese {
                flush(&mut cur, chinese, &mut out);
            }
            chinese = true;
            cur.push(c);
        } else if c.is_alphanumeric() {
            if chinese {
                flush(&mut cur, chinese, &mut out);
            }
            chinese = false;
            cur.push(c);
        } else {
            flush(&mut cur, chinese, &mut out);
        }
    }
    flush(&mut cur, chinese, &mut out);
    out
}

/// The chunks of text between separators, lower-cased; a chunk mixing Latin and Chinese
/// (T恤, U盘) is also a word of its own.
pub fn chunks(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || is_cjk(c))).filter(|c| !c.is_empty()).map(str::to_lowercase).collect()
}

/// Whether a chunk mixes Latin and Chinese.
pub fn mixed(chunk: &str) -> bool {
    chunk.chars().any(is_cjk) && chunk.chars().any(|c| c.is_ascii_alphanumeric())
}

/// The terms of a field's text: words (jieba's search mode for Chinese), each Chinese
/// character, and short chunks mixing Latin and Chinese (t恤), each once.
pub fn terms(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |t: &str| {
        if !t.is_empty() && !out.iter().any(|x| x == t) {
            out.push(t.to_owned());
        }
    };
    for c in chunks(text) {
        if !mixed(&c) {
            continue;
        }
        if c.chars().count() <= 8 {
            push(&c);
        }
        // A Latin run and the character after it: 纯棉T恤 holds t恤, 64G U盘 holds u盘.
        let rs = runs(&c);
        for pair in rs.windows(2) {
            if let [Run::Latin(l), Run::Chinese(h)] = pair {
                let mut w = l.clone();
                w.extend(h.chars().take(1));
                push(&w);
            }
        }
    }
    for run in runs(text) {
        match run {
            Run::Latin(w) => push(&w),
            Run::Chinese(s) => {
                for tok in jieba().cut_for_search(&s, true) {
                    push(tok.word);
                }
                let mut buf = [0u8; 4];
                for c in s.chars() {
                    push(c.encode_utf8(&mut buf));
                }
            }
        }
    }
    out
}

/// Every run of `min` to `max` consecutive Chinese characters in `text`.
pub fn chinese_ngrams(text: &str, min: usize, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    for run in runs(text) {
        if let Run::Chinese(s) = run {
            let chars: Vec<char> = s.chars().collect();
            for n in min..=max.min(chars.len()) {
                for w in chars.windows(n) {
                    out.push(w.iter().collect());
                }
            }
        }
    }
    out
}

/// The words a query's Chinese run is made of (jieba's precise mode: no overlapping parts).
pub fn query_words(run: &str) -> Vec<String> {
    jieba().cut(run, true).into_iter().map(|t| t.word.to_owned()).collect()
}

/// A Chinese word's pinyin without tones, and its initials; `None` for text with other
/// characters, or for a single character (its sound matches too much).
pub fn pinyin_of(word: &str) -> Option<(String, String)> {
    if word.chars().count() < 2 || !word.chars().all(is_cjk) {
        return None;
    }
    let mut full = String::new();
    let mut initials = String::new();
    for p in word.to_pinyin() {
        let p = p?;
        full.push_str(p.plain());
        initials.push_str(p.first_letter());
    }
    Some((full, initials))
}

/// The pinyin of each character of a Chinese run, as typed (for a run that is not a word of
/// the catalog: 连衣群 sounds like 连衣裙).
pub fn pinyin_run(run: &str) -> Option<String> {
    let mut full = String::new();
    for p in run.to_pinyin() {
        full.push_str(p?.plain());
    }
    Some(full)
}

/// Whether two short words are at most `max` edits apart: a character inserted, removed or
/// replaced, or two neighbours swapped (optimal string alignment).
pub fn within_edits(a: &str, b: &str, max: usize) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > max {
        return false;
    }
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for (j, cell) in d.iter_mut().take(w).enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        d[i * w] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * w + j - 1] + cost).min(d[(i - 1) * w + j] + 1).min(d[i * w + j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = v;
        }
    }
    d[a.len() * w + b.len()] <= max
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_and_latin_runs() {
        assert_eq!(
            runs("iPhone 15 手机壳，防摔"),
            vec![
                Run::Latin("iphone".into()),
                Run::Latin("15".into()),
                Run::Chinese("手机壳".into()),
                Run::Chinese("防摔".into())
            ]
        );
        let t = terms("碎花连衣裙");
        for w in ["连衣裙", "连衣", "碎花", "裙"] {
            assert!(t.contains(&w.to_owned()), "{w} in {t:?}");
        }
    }

    #[test]
    fn the_embedded_dictionary_loads() {
        let words: Vec<String> =
            jieba().cut("阿克苏冰糖心苹果", false).into_iter().map(|t| t.word.to_owned()).collect();
        assert!(words.contains(&"苹果".to_owned()) && words.contains(&"冰糖".to_owned()), "{words:?}");
    }

    #[test]
    fn pinyin_and_initials() {
        assert_eq!(pinyin_of("连衣裙"), Some(("lianyiqun".into(), "lyq".into())));
        assert_eq!(pinyin_of("裙"), None);
        assert_eq!(pinyin_run("连衣群").as_deref(), Some("lianyiqun"));
    }

    #[test]
    fn edits() {
        assert!(within_edits("iphone", "iphnoe", 1), "a swap is one edit");
        assert!(within_edits("iphone", "iphne", 1));
        assert!(!within_edits("iphone", "ipnhoe", 1));
        assert!(!within_edits("iphone", "huawei", 2));
    }
}
