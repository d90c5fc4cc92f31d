//! The in-memory index of one instance: postings of every term to the products whose fields
//! hold it (weighted by field: title 3, category and tags 2, spec values 1.5, SKU names and
//! subtitle 1), pinyin postings (of title, category and tags), and what filters and sorts read. A query is broken into
//! units (its words); each unit matches through its best alternative: the word itself (1.0),
//! an operator's synonym (0.8), its pinyin or initials (0.8; a Latin word typed as pinyin),
//! a prefix of a pinyin (0.6), a Latin word one edit away (two from 8 letters; a swap of two
//! neighbours is one edit) (0.5), or, for a Chinese
//! word the catalog does not hold, its sound (0.7: a character of the same sound typed) or
//! its characters (0.3). A product's score sums its units' best matches by inverse document
//! frequency, times the share of units matched; at least half the units must match.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::text::{self, Run};
use domain::ids::ProductId;
use store::repo::search::SearchDoc;

const FIELDS: [f32; 6] = [3.0, 2.0, 2.0, 1.5, 1.0, 1.0];

fn fields(d: &SearchDoc) -> [String; 6] {
    [
        d.title.clone(),
        d.category.clone(),
        d.tags.join(" "),
        d.specs.join(" "),
        d.sku_names.join(" "),
        d.subtitle.clone(),
    ]
}

/// How results are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    #[default]
    Relevance,
    Sales,
    PriceAsc,
    PriceDesc,
    Newest,
}

#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub category: Option<String>,
    pub price_min: Option<i64>,
    pub price_max: Option<i64>,
    pub in_stock: bool,
}

/// One product as the index holds it.
struct Entry {
    doc: SearchDoc,
    terms: Vec<String>,
    pinyin: Vec<String>,
}

#[derive(Default)]
pub struct Index {
    entries: Vec<Option<Entry>>,
    slot: HashMap<ProductId, usize>,
    postings: HashMap<String, HashMap<usize, f32>>,
    pinyin: BTreeMap<String, HashMap<usize, f32>>,
    synonyms: HashMap<String, Vec<String>>,
    live: usize,
}

/// A result: the product and the key it is ordered by (the cursor of the next page).
#[derive(Debug, Clone)]
pub struct Hit<'a> {
    pub doc: &'a SearchDoc,
    pub score: f64,
    pub key: SortKey,
}

/// Where a result stands in its order; pages continue after the last one's key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SortKey {
    /// Sold-out products come last, whatever the sort.
    pub sold_out: bool,
    /// The sort's own value, larger first (prices ascending are negated).
    pub value: f64,
    pub id: String,
}

impl SortKey {
    fn before(&self, other: &SortKey) -> bool {
        (self.sold_out, -self.value, &self.id) < (other.sold_out, -other.value, &other.id)
    }
}

impl Index {
    pub fn new(docs: Vec<SearchDoc>, synonyms: &[Vec<String>]) -> Index {
        let mut ix = Index::default();
        ix.set_synonyms(synonyms);
        for d in docs {
            ix.upsert(d);
        }
        ix
    }

    /// Operators' synonym groups: each word of a group also finds the others.
    pub fn set_synonyms(&mut self, groups: &[Vec<String>]) {
        self.synonyms.clear();
        for g in groups {
            let words: Vec<String> = g.iter().map(|w| w.trim().to_lowercase()).filter(|w| !w.is_empty()).collect();
            for w in &words {
                let others = words.iter().filter(|o| *o != w).cloned();
                self.synonyms.entry(w.clone()).or_default().extend(others);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// When each product's document was written: what a catch-up compares.
    pub fn written_ms(&self, id: &ProductId) -> Option<i64> {
        self.slot.get(id).and_then(|&i| self.entries[i].as_ref()).map(|e| e.doc.written_ms)
    }

    /// Adds a product's document, or replaces an older one; a product off sale leaves the index.
    pub fn upsert(&mut self, doc: SearchDoc) {
        if self.written_ms(&doc.product_id).is_some_and(|w| w > doc.written_ms) {
            return;
        }
        let slot = match self.slot.get(&doc.product_id) {
            Some(&i) => {
                self.remove(i);
                i
            }
            None => {
                self.entries.push(None);
                self.entries.len() - 1
            }
        };
        self.slot.insert(doc.product_id.clone(), slot);
        if !doc.on_sale {
            // Kept as a tombstone: a late older document must not bring it back.
            let entry = Entry { doc, terms: Vec::new(), pinyin: Vec::new() };
            self.entries[slot] = Some(entry);
            return;
        }
        let mut weights: HashMap<String, f32> = HashMap::new();
        let mut sounds: HashMap<String, f32> = HashMap::new();
        for (field, (text, w)) in fields(&doc).iter().zip(FIELDS).enumerate() {
            for t in text::terms(text) {
                let e = weights.entry(t).or_insert(0.0);
                *e = e.max(w);
            }
            // The sound of every run of 2 to 4 characters, not only of jieba's words: 手机壳
            // (cut as 手机 + 壳) is still shoujike and sjk. Title, category and tags only:
            // nobody types a spec value or a SKU name in pinyin, and the build takes longer.
            if field >= 3 {
                continue;
            }
            for gram in text::chinese_ngrams(text, 2, 4) {
                if let Some((full, initials)) = text::pinyin_of(&gram) {
                    for p in [full, initials] {
                        let e = sounds.entry(p).or_insert(0.0);
                        *e = e.max(w);
                    }
                }
            }
        }
        for (t, w) in &weights {
            self.postings.entry(t.clone()).or_default().insert(slot, *w);
        }
        for (p, w) in &sounds {
            self.pinyin.entry(p.clone()).or_default().insert(slot, *w);
        }
        self.entries[slot] =
            Some(Entry { doc, terms: weights.into_keys().collect(), pinyin: sounds.into_keys().collect() });
        self.live += 1;
    }

    fn remove(&mut self, slot: usize) {
        let Some(e) = self.entries[slot].take() else {
            return;
        };
        if e.doc.on_sale {
            self.live -= 1;
        }
        for t in e.terms {
            if let Some(p) = self.postings.get_mut(&t) {
                p.remove(&slot);
                if p.is_empty() {
                    self.postings.remove(&t);
                }
            }
        }
        for t in e.pinyin {
            if let Some(p) = self.pinyin.get_mut(&t) {
                p.remove(&slot);
                if p.is_empty() {
                    self.pinyin.remove(&t);
                }
            }
        }
    }

    fn idf(&self, df: usize) -> f64 {
        (1.0 + self.live.max(1) as f64 / df.max(1) as f64).ln()
    }

    /// The best score of one alternative for each product it reaches.
    fn add_term(&self, into: &mut HashMap<usize, f64>, postings: Option<&HashMap<usize, f32>>, factor: f64) {
        let Some(p) = postings else {
            return;
        };
        let idf = self.idf(p.len());
        for (&slot, &w) in p {
            let s = factor * idf * f64::from(w);
            let e = into.entry(slot).or_insert(0.0);
            if s > *e {
                *e = s;
            }
        }
    }

    /// Each query unit's best score per product.
    fn unit_scores(&self, query: &str) -> Vec<HashMap<usize, f64>> {
        let mut units = Vec::new();
        let mut rest = Vec::new();
        for chunk in text::chunks(query) {
            // A mixed word the catalog or the synonyms know (t恤) is one unit.
            if text::mixed(&chunk) && (self.postings.contains_key(&chunk) || self.synonyms.contains_key(&chunk)) {
                let mut u = HashMap::new();
                self.add_term(&mut u, self.postings.get(&chunk), 1.0);
                for syn in self.synonyms.get(&chunk).into_iter().flatten() {
                    self.add_term(&mut u, self.postings.get(syn), 0.8);
                }
                units.push(u);
            } else {
                rest.push(chunk);
            }
        }
        for run in text::runs(&rest.join(" ")) {
            match run {
                Run::Latin(w) => {
                    let mut u = HashMap::new();
                    self.add_term(&mut u, self.postings.get(&w), 1.0);
                    self.add_term(&mut u, self.pinyin.get(&w), 0.8);
                    for s in self.synonyms.get(&w).into_iter().flatten() {
                        self.add_term(&mut u, self.postings.get(s), 0.8);
                    }
                    if w.len() >= 3 && w.chars().all(|c| c.is_ascii_lowercase()) {
                        for (_, p) in self.pinyin.range(w.clone()..).take_while(|(k, _)| k.starts_with(&w)).take(50) {
                            self.add_term(&mut u, Some(p), 0.6);
                        }
                    }
                    if u.is_empty() && w.chars().count() >= 4 {
                        let max = if w.chars().count() >= 8 { 2 } else { 1 };
                        for (t, p) in &self.postings {
                            if t.is_ascii() && text::within_edits(&w, t, max) {
                                self.add_term(&mut u, Some(p), 0.5);
                            }
                        }
                    }
                    units.push(u);
                }
                Run::Chinese(s) => {
                    for word in text::query_words(&s) {
                        let mut u = HashMap::new();
                        self.add_term(&mut u, self.postings.get(&word), 1.0);
                        for syn in self.synonyms.get(&word).into_iter().flatten() {
                            self.add_term(&mut u, self.postings.get(syn), 0.8);
                        }
                        if !self.postings.contains_key(&word) && word.chars().count() >= 2 {
                            if let Some(sound) = text::pinyin_run(&word) {
                                self.add_term(&mut u, self.pinyin.get(&sound), 0.7);
                            }
                            let n = word.chars().count() as f64;
                            let mut buf = [0u8; 4];
                            let mut parts: HashMap<usize, f64> = HashMap::new();
                            for c in word.chars() {
                                let mut one = HashMap::new();
                                self.add_term(&mut one, self.postings.get(c.encode_utf8(&mut buf) as &str), 0.3 / n);
                                for (k, v) in one {
                                    *parts.entry(k).or_insert(0.0) += v;
                                }
                            }
                            for (k, v) in parts {
                                let e = u.entry(k).or_insert(0.0);
                                if v > *e {
                                    *e = v;
                                }
                            }
                        }
                        units.push(u);
                    }
                }
            }
        }
        units
    }

    /// Products matching `query` (every product on sale when it is empty) and the filters, in
    /// the sort's order, starting after `after`, at most `limit`; and how many match in all.
    pub fn search(
        &self,
        query: &str,
        filters: &Filters,
        sort: Sort,
        after: Option<&SortKey>,
        limit: usize,
    ) -> (Vec<Hit<'_>>, usize) {
        let units = self.unit_scores(query);
        let mut scores: HashMap<usize, f64> = HashMap::new();
        if units.is_empty() {
            for (i, e) in self.entries.iter().enumerate() {
                if e.as_ref().is_some_and(|e| e.doc.on_sale) {
                    scores.insert(i, 0.0);
                }
            }
        } else {
            let mut matched: HashMap<usize, (f64, usize)> = HashMap::new();
            for u in &units {
                for (&slot, &s) in u {
                    let m = matched.entry(slot).or_insert((0.0, 0));
                    m.0 += s;
                    m.1 += 1;
                }
            }
            let n = units.len();
            for (slot, (s, k)) in matched {
                if k * 2 >= n {
                    scores.insert(slot, s * k as f64 / n as f64);
                }
            }
        }
        let mut hits: Vec<Hit<'_>> = scores
            .into_iter()
            .filter_map(|(slot, score)| {
                let d = &self.entries[slot].as_ref()?.doc;
                if !d.on_sale || !passes(d, filters) {
                    return None;
                }
                let value = match sort {
                    Sort::Relevance => score,
                    Sort::Sales => d.sales as f64,
                    Sort::PriceAsc => -(d.price_min as f64),
                    Sort::PriceDesc => d.price_min as f64,
                    Sort::Newest => d.created_at as f64,
                };
                let key = SortKey { sold_out: !d.in_stock, value, id: d.product_id.to_string() };
                Some(Hit { doc: d, score, key })
            })
            .collect();
        let total = hits.len();
        if let Some(a) = after {
            hits.retain(|h| a.before(&h.key));
        }
        let limit = limit.min(hits.len());
        if limit > 0 {
            hits.select_nth_unstable_by(limit - 1, |a, b| order(&a.key, &b.key));
        }
        hits.truncate(limit);
        hits.sort_by(|a, b| order(&a.key, &b.key));
        (hits, total)
    }
}

fn order(a: &SortKey, b: &SortKey) -> std::cmp::Ordering {
    a.sold_out
        .cmp(&b.sold_out)
        .then(b.value.partial_cmp(&a.value).unwrap_or(std::cmp::Ordering::Equal))
        .then(a.id.cmp(&b.id))
}

fn passes(d: &SearchDoc, f: &Filters) -> bool {
    f.category.as_deref().is_none_or(|c| d.category == c)
        && f.price_min.is_none_or(|m| d.price_max >= m)
        && f.price_max.is_none_or(|m| d.price_min <= m)
        && (!f.in_stock || d.in_stock)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(id: &str, title: &str, category: &str, in_stock: bool, price: i64) -> SearchDoc {
        SearchDoc {
            product_id: ProductId::parse(id).unwrap(),
            on_sale: true,
            title: title.into(),
            subtitle: String::new(),
            category: category.into(),
            tags: vec![],
            specs: vec![],
            sku_names: vec![],
            price_min: price,
            price_max: price,
            in_stock,
            sales: 0,
            created_at: 0,
            cover: None,
            written_ms: 1,
        }
    }

    fn ids(hits: &[Hit<'_>]) -> Vec<String> {
        hits.iter().map(|h| h.doc.product_id.to_string()).collect()
    }

    #[test]
    fn pinyin_initials_and_sound_find_the_word() {
        let ix = Index::new(
            vec![doc("P1", "碎花连衣裙", "女装", true, 100), doc("P2", "纯棉T恤", "男装", true, 50)],
            &[vec!["t恤".into(), "短袖".into()]],
        );
        for q in ["连衣裙", "lianyiqun", "lyq", "连衣群", "lianyi"] {
            let (hits, _) = ix.search(q, &Filters::default(), Sort::Relevance, None, 10);
            assert_eq!(ids(&hits).first().map(String::as_str), Some("P1"), "{q}");
        }
        let (hits, _) = ix.search("短袖", &Filters::default(), Sort::Relevance, None, 10);
        assert_eq!(ids(&hits), vec!["P2"], "a synonym");
    }

    #[test]
    fn sold_out_last_and_paging_by_key() {
        let docs = (0..25).map(|i| doc(&format!("P{i:02}"), "苹果", "水果", i % 5 != 0, 100 + i)).collect();
        let ix = Index::new(docs, &[]);
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let (hits, total) = ix.search("苹果", &Filters::default(), Sort::PriceAsc, after.as_ref(), 7);
            assert_eq!(total, 25);
            if hits.is_empty() {
                break;
            }
            after = hits.last().map(|h| h.key.clone());
            seen.extend(hits.iter().map(|h| (h.doc.in_stock, h.doc.price_min)));
        }
        assert_eq!(seen.len(), 25);
        let first_sold_out = seen.iter().position(|(s, _)| !s).unwrap();
        assert!(seen[first_sold_out..].iter().all(|(s, _)| !s), "sold out last");
        assert!(seen[..first_sold_out].windows(2).all(|w| w[0].1 < w[1].1), "price ascending");
    }
}
