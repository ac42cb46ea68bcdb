//! The difference between a committed snapshot and the current one, as `-`/`+` lines.

use std::collections::HashMap;

/// `None` when `old` and `new` hold the same lines; otherwise the lines only `old` has
/// (`- `, in its order), then those only `new` has (`+ `, in its order).
pub(crate) fn diff(old: &str, new: &str) -> Option<String> {
    if old == new {
        return None;
    }
    let removed = only_in(old, new);
    let added = only_in(new, old);
    let mut out = String::new();
    for line in &removed {
        out.push_str(&format!("- {line}\n"));
    }
    for line in &added {
        out.push_str(&format!("+ {line}\n"));
    }
    if out.is_empty() {
        // Same lines in another order, or other whitespace.
        out.push_str("(same items, but the text differs: order or line endings)\n");
    }
    Some(out)
}

/// The lines of `a` that `b` does not have (counting repeats).
fn only_in<'a>(a: &'a str, b: &str) -> Vec<&'a str> {
    let mut left: HashMap<&str, usize> = HashMap::new();
    for line in b.lines() {
        *left.entry(line).or_default() += 1;
    }
    a.lines()
        .filter(|line| match left.get_mut(line) {
            Some(n) if *n > 0 => {
                *n -= 1;
                false
            }
            _ => true,
        })
        .collect()
}
