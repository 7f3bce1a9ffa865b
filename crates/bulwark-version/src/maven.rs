//! Maven versions, ordered as Maven's
//! `org.apache.maven.artifact.versioning.ComparableVersion` does (Maven
//! 3.8/3.9; see "Version Order Specification" in the Maven POM reference).
//!
//! The lower-cased version is split into items at `.` and `-` and at every
//! switch between digits and letters. A `-` (and a digit/letter switch)
//! opens a nested sub-list. Numbers compare numerically; qualifiers order
//! `alpha < beta < milestone < rc = cr < snapshot < "" = ga = final =
//! release < sp < (anything else, alphabetically)`, with `a`, `b`, `m`
//! directly followed by a digit meaning alpha, beta, milestone. A
//! qualifier after `.` nests like one after `-` (`1.0.X1 < 1.0-X2`). Trailing
//! "null" items (0, empty qualifiers, empty lists) are dropped from every
//! list, and a missing item compares like a null one, so `1 == 1.0 ==
//! 1-ga`. Maven accepts any string; only length and nesting are bounded.
//!
//! Maven's order is not transitive everywhere (`6.aa-0-0 < 6alpha < 6.` yet
//! `6.aa-0-0 > 6.`, all three as ComparableVersion answers them), so it cannot
//! be an [`Ord`]: Rust's sort panics on such a comparator ("does not correctly
//! implement a total order") and a `BTreeMap` misbehaves. This module therefore
//! gives two comparisons:
//!
//! - [`MavenVersion::maven_cmp`] reproduces ComparableVersion's pairwise answers,
//!   quirks included; a range check must agree with the repository's own
//!   comparison, so vulnerability matching uses this one.
//! - [`Ord`] is a total order for sorting: the same item rules, except that a
//!   missing item ("null") gets one fixed place among the items instead of
//!   comparing by the other item's sign. Items rank as pre-release qualifiers,
//!   then lists that sort below a release, then null-equivalent items (a
//!   missing item, `""`/`ga`/`final`/`release`, an empty list), then
//!   post-release qualifiers (`sp`, unknown words), then lists above a release,
//!   then numbers (`0` included). This agrees with `maven_cmp` wherever Maven
//!   itself is consistent in practice (`1.0-1 < 1.0.1`, `1-sp > 1`,
//!   `1-rc1 < 1`); it differs only where Maven contradicts itself, e.g. a
//!   post-release word before a sub-list (`1.sp.x` against `1-alpha`) or a `0`
//!   followed by a pre-release word (`1.0.alpha.1` against `1`).

use std::cmp::Ordering;

use crate::num::Num;

/// Deepest list nesting accepted (each `-` or digit/letter switch nests).
const MAX_DEPTH: usize = 256;

#[derive(Debug, Clone)]
enum Item {
    Int(Num),
    Str(String),
    List(Vec<Item>),
}

/// A parsed Maven version.
#[derive(Debug, Clone)]
pub struct MavenVersion {
    items: Vec<Item>,
}

const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];

/// `ComparableVersion.StringItem.comparableQualifier`: known qualifiers
/// become their index, unknown ones `"7-<name>"`; the result is compared as
/// a string.
fn comparable_qualifier(q: &str) -> String {
    match QUALIFIERS.iter().position(|k| *k == q) {
        Some(i) => i.to_string(),
        None => format!("{}-{}", QUALIFIERS.len(), q),
    }
}

fn string_item(value: &str, followed_by_digit: bool) -> Item {
    let value = match (followed_by_digit, value) {
        (true, "a") => "alpha",
        (true, "b") => "beta",
        (true, "m") => "milestone",
        (_, "ga" | "final" | "release") => "",
        (_, "cr") => "rc",
        (_, v) => v,
    };
    Item::Str(value.to_string())
}

fn parse_item(is_digit: bool, buf: &str) -> Item {
    if is_digit {
        Item::Int(Num::from_digits(buf))
    } else {
        string_item(buf, false)
    }
}

fn is_null(item: &Item) -> bool {
    match item {
        Item::Int(n) => n.is_zero(),
        Item::Str(s) => s.is_empty(),
        Item::List(l) => l.is_empty(),
    }
}

/// `ListItem.normalize`: drop trailing null items, looking through
/// trailing sub-lists but stopping at the first non-null non-list item.
fn normalize(list: &mut Vec<Item>) {
    let mut i = list.len();
    while i > 0 {
        i -= 1;
        let Some(item) = list.get(i) else { break };
        if is_null(item) {
            list.remove(i);
        } else if !matches!(item, Item::List(_)) {
            break;
        }
    }
}

impl MavenVersion {
    /// Parses any string the way `new ComparableVersion(s)` does.
    pub fn parse(s: &str) -> Result<MavenVersion, String> {
        let lower = s.to_lowercase();
        let v = lower.as_str();
        // stack[0] is the root list; the last element is the list items are
        // being added to. A nested list is always the last item of its
        // parent, so it is attached when popped.
        let mut stack: Vec<Vec<Item>> = vec![Vec::new()];
        let push_list = |stack: &mut Vec<Vec<Item>>| -> Result<(), String> {
            if stack.len() >= MAX_DEPTH {
                return Err(format!("nested deeper than {MAX_DEPTH} levels"));
            }
            stack.push(Vec::new());
            Ok(())
        };
        let add = |stack: &mut Vec<Vec<Item>>, item: Item| {
            if let Some(top) = stack.last_mut() {
                top.push(item);
            }
        };
        let mut is_digit = false;
        let mut start = 0usize;
        for (i, c) in v.char_indices() {
            if c == '.' || c == '-' {
                if i == start {
                    add(&mut stack, Item::Int(Num::zero()));
                } else {
                    add(
                        &mut stack,
                        parse_item(is_digit, v.get(start..i).unwrap_or_default()),
                    );
                }
                start = i + 1;
                if c == '-' {
                    push_list(&mut stack)?;
                }
            } else if c.is_ascii_digit() {
                if !is_digit && i > start {
                    // `1.0.X1 < 1.0-X2`: a qualifier after `.` is nested as
                    // if it followed `-`.
                    if stack.last().is_some_and(|l| !l.is_empty()) {
                        push_list(&mut stack)?;
                    }
                    add(
                        &mut stack,
                        string_item(v.get(start..i).unwrap_or_default(), true),
                    );
                    start = i;
                    push_list(&mut stack)?;
                }
                is_digit = true;
            } else {
                if is_digit && i > start {
                    add(
                        &mut stack,
                        parse_item(true, v.get(start..i).unwrap_or_default()),
                    );
                    start = i;
                    push_list(&mut stack)?;
                }
                is_digit = false;
            }
        }
        if v.len() > start {
            if !is_digit && stack.last().is_some_and(|l| !l.is_empty()) {
                push_list(&mut stack)?;
            }
            add(
                &mut stack,
                parse_item(is_digit, v.get(start..).unwrap_or_default()),
            );
        }
        while stack.len() > 1 {
            let Some(mut list) = stack.pop() else { break };
            normalize(&mut list);
            add(&mut stack, Item::List(list));
        }
        let mut items = stack.pop().unwrap_or_default();
        normalize(&mut items);
        Ok(MavenVersion { items })
    }
}

/// `item.compareTo(null)`: how an item compares with a missing one.
fn cmp_null(item: &Item) -> Ordering {
    match item {
        Item::Int(n) => {
            if n.is_zero() {
                Ordering::Equal
            } else {
                Ordering::Greater
            }
        }
        Item::Str(s) => comparable_qualifier(s).cmp(&comparable_qualifier("")),
        Item::List(l) => l
            .iter()
            .map(cmp_null)
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal),
    }
}

fn cmp_item(a: &Item, b: &Item) -> Ordering {
    match (a, b) {
        (Item::Int(x), Item::Int(y)) => x.cmp(y),
        (Item::Int(_), _) => Ordering::Greater,
        (Item::Str(_), Item::Int(_) | Item::List(_)) => Ordering::Less,
        (Item::Str(x), Item::Str(y)) => comparable_qualifier(x).cmp(&comparable_qualifier(y)),
        (Item::List(_), Item::Int(_)) => Ordering::Less,
        (Item::List(_), Item::Str(_)) => Ordering::Greater,
        (Item::List(x), Item::List(y)) => cmp_list(x, y),
    }
}

fn cmp_list(a: &[Item], b: &[Item]) -> Ordering {
    for i in 0..a.len().max(b.len()) {
        let ord = match (a.get(i), b.get(i)) {
            (Some(l), Some(r)) => cmp_item(l, r),
            (Some(l), None) => cmp_null(l),
            (None, Some(r)) => cmp_null(r).reverse(),
            (None, None) => Ordering::Equal,
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// Where an item sits in the total order (see the module docs).
fn rank(item: &Item) -> u8 {
    match item {
        Item::Int(_) => 5,
        Item::Str(_) => match cmp_null(item) {
            Ordering::Less => 0,
            Ordering::Equal => 2,
            Ordering::Greater => 3,
        },
        Item::List(_) => match cmp_null(item) {
            Ordering::Less => 1,
            Ordering::Equal => 2,
            Ordering::Greater => 4,
        },
    }
}

/// Rank of a missing item: with the null-equivalent ones.
const NULL_RANK: u8 = 2;

/// The total order on items; `None` is a missing item.
fn total_item(a: Option<&Item>, b: Option<&Item>) -> Ordering {
    let ra = a.map_or(NULL_RANK, rank);
    let rb = b.map_or(NULL_RANK, rank);
    ra.cmp(&rb).then_with(|| match (a, b) {
        (Some(Item::Int(x)), Some(Item::Int(y))) => x.cmp(y),
        (Some(Item::Str(x)), Some(Item::Str(y))) => {
            comparable_qualifier(x).cmp(&comparable_qualifier(y))
        }
        (Some(Item::List(x)), Some(Item::List(y))) => total_list(x, y),
        // Same rank, different kinds: only null-equivalent items share a rank
        // across kinds, and those are all equal.
        _ => Ordering::Equal,
    })
}

fn total_list(a: &[Item], b: &[Item]) -> Ordering {
    for i in 0..a.len().max(b.len()) {
        let ord = total_item(a.get(i), b.get(i));
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

impl MavenVersion {
    /// ComparableVersion's own answer for this pair (`a.compareTo(b)`), which is not
    /// transitive for some inputs: use it for one comparison, never to sort.
    pub fn maven_cmp(&self, other: &Self) -> Ordering {
        cmp_list(&self.items, &other.items)
    }
}

/// A total order (see the module docs); for Maven's pairwise answer use
/// [`MavenVersion::maven_cmp`].
impl Ord for MavenVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        total_list(&self.items, &other.items)
    }
}

impl PartialOrd for MavenVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for MavenVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for MavenVersion {}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> MavenVersion {
        MavenVersion::parse(s).unwrap()
    }

    fn both(a: &str, b: &str) -> (Ordering, Ordering) {
        (v(a).maven_cmp(&v(b)), v(a).cmp(&v(b)))
    }

    #[test]
    fn pom_reference_examples() {
        use Ordering::{Equal as E, Greater as G, Less as L};
        // From the POM reference's "Version Order Specification", plus the common
        // shapes of real versions; the total order must give Maven's answer on all.
        for (a, b, want) in [
            ("1", "1.0", E),
            ("1", "1.0.0", E),
            ("1-alpha", "1-beta", L),
            ("1ga", "1", E),
            ("1release", "1", E),
            ("1final", "1", E),
            ("1cr", "1rc", E),
            ("1-snapshot", "1", L),
            ("1", "1-sp", L),
            ("1-sp", "1-foo", L),
            ("1-foo2", "1-foo10", L),
            ("1-foo", "1-1", L),
            ("1.foo", "1-foo", E),
            ("1-1", "1.1", L),
            ("1a1", "1-alpha-1", E),
            ("1.0-RC1", "1.0", L),
            ("1.0-1", "1.0.1", L),
            ("1", "1-1", L),
            ("1.0.0.RELEASE", "1", E),
            ("2.17.1", "2.17.0", G),
            ("2.0.0-M1", "2.0.0", L),
            ("5.3.18", "5.3.18.RELEASE", E),
            ("1.2.3-SNAPSHOT", "1.2.3-rc1", G),
            ("1.0.1", "1-sp", G),
        ] {
            assert_eq!(both(a, b), (want, want), "{a} vs {b}");
            assert_eq!(both(b, a), (want.reverse(), want.reverse()), "{b} vs {a}");
        }
    }

    #[test]
    fn total_order_stays_total_where_maven_is_not() {
        // Maven: 6.aa-0-0 < 6alpha < 6. but 6.aa-0-0 > 6. (and the same shape for 0sp).
        for (a, b, c) in [("6.aa-0-0", "6alpha", "6."), ("0sp", "0.alpha-0", "0")] {
            assert_eq!(v(a).maven_cmp(&v(b)), Ordering::Less);
            assert_eq!(v(b).maven_cmp(&v(c)), Ordering::Less);
            assert_eq!(v(a).maven_cmp(&v(c)), Ordering::Greater);
            let mut xs = [v(a), v(b), v(c)];
            xs.sort();
            assert!(xs[0] <= xs[1] && xs[1] <= xs[2] && xs[0] <= xs[2]);
        }
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let deep = "1-".repeat(MAX_DEPTH + 1);
        assert!(MavenVersion::parse(&deep).is_err());
    }
}
