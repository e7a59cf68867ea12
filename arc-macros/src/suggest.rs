//! "Did you mean": the closest candidate to a misspelled name.

/// The candidate closest to `word`, if it is close enough to be a likely typo.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| {
            // A name cut short (`org` for `org_id`) is as likely a slip as a typo.
            let prefix = word.len() >= 3 && (c.starts_with(word) || word.starts_with(c));
            (if prefix { 1 } else { distance(word, c) }, c)
        })
        .filter(|(d, c)| *d <= (word.len().max(c.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `message`, plus "; did you mean `x`?" when a candidate is close.
pub(crate) fn did_you_mean<'a>(
    message: String,
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> String {
    match closest(word, candidates) {
        Some(c) => format!("{message}; did you mean `{c}`?"),
        None => message,
    }
}

/// Edit distance where swapping two neighbouring characters is one edit (optimal string
/// alignment), so `slgu` is one edit from `slug`.
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_typos_only() {
        assert_eq!(closest("prise", ["price", "name"]), Some("price"));
        assert_eq!(
            closest("soft_delet", ["soft_delete", "tree"]),
            Some("soft_delete")
        );
        assert_eq!(closest("zzz", ["price", "name"]), None);
        assert_eq!(closest("slgu", ["slug", "id"]), Some("slug"));
        assert_eq!(closest("nmae", ["name"]), Some("name"));
        assert_eq!(closest("org", ["org_id", "id"]), Some("org_id"));
        assert_eq!(closest("id", ["org_id"]), None, "too short to guess from");
    }
}
