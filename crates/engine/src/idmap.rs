//! [`IdMap`]: the instance's tokens and scopes, keyed by their ids, in id order.
//!
//! An instance holds a handful of live tokens and scopes, and their ids only grow, so a
//! sorted vector beats a `BTreeMap`: a new entry is a push at the end, a lookup a binary search
//! over a few cache lines, and a step that replaces one token by the next allocates nothing
//! once the vector has room. Iteration is in id order, as with the `BTreeMap` it replaces, so
//! the engine's choices (which pending call goes first, which token a key finds) stay
//! deterministic.
//!
//! ```ignore
//! let mut m = IdMap::default();
//! m.insert(1, "a");
//! m.insert(3, "c");
//! m.insert(2, "b"); // out of order is allowed (a resumed snapshot), just slower
//! assert_eq!(m.values().copied().collect::<Vec<_>>(), ["a", "b", "c"]);
//! assert_eq!(m.remove(&2), Some("b"));
//! ```

use crate::state::Id;

/// A map from [`Id`] to `T`, sorted by id.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct IdMap<T> {
    entries: Vec<(Id, T)>,
}

impl<T> Default for IdMap<T> {
    fn default() -> Self {
        IdMap { entries: Vec::new() }
    }
}

impl<T> IdMap<T> {
    fn find(&self, id: Id) -> Result<usize, usize> {
        // the newest entry is the likeliest target: check it before searching
        match self.entries.last() {
            Some((last, _)) if *last == id => Ok(self.entries.len() - 1),
            Some((last, _)) if *last < id => Err(self.entries.len()),
            _ => self.entries.binary_search_by_key(&id, |(k, _)| *k),
        }
    }

    /// Inserts `value` at `id`, returning the value it replaces.
    pub fn insert(&mut self, id: Id, value: T) -> Option<T> {
        match self.find(id) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.entries.insert(i, (id, value));
                None
            }
        }
    }

    pub fn get(&self, id: &Id) -> Option<&T> {
        self.find(*id).ok().map(|i| &self.entries[i].1)
    }

    pub fn get_mut(&mut self, id: &Id) -> Option<&mut T> {
        match self.find(*id) {
            Ok(i) => Some(&mut self.entries[i].1),
            Err(_) => None,
        }
    }

    pub fn contains_key(&self, id: &Id) -> bool {
        self.find(*id).is_ok()
    }

    pub fn remove(&mut self, id: &Id) -> Option<T> {
        self.find(*id).ok().map(|i| self.entries.remove(i).1)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn keys(&self) -> impl Iterator<Item = &Id> + '_ {
        self.entries.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &T> + '_ {
        self.entries.iter().map(|(_, v)| v)
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut T> + '_ {
        self.entries.iter_mut().map(|(_, v)| v)
    }
}

impl<T> std::ops::Index<&Id> for IdMap<T> {
    type Output = T;

    fn index(&self, id: &Id) -> &T {
        self.get(id).expect("no entry with this id")
    }
}

impl<T> FromIterator<(Id, T)> for IdMap<T> {
    fn from_iter<I: IntoIterator<Item = (Id, T)>>(iter: I) -> Self {
        let mut m = IdMap::default();
        for (k, v) in iter {
            m.insert(k, v);
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(Id, u32),
        Remove(Id),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u64..40, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            (0u64..40).prop_map(Op::Remove),
        ]
    }

    proptest! {
        /// Any sequence of inserts and removes leaves the same entries, in the same order, as
        /// a `BTreeMap` given the same sequence.
        #[test]
        fn behaves_like_a_btreemap(ops in proptest::collection::vec(op(), 0..200)) {
            let mut ours = IdMap::default();
            let mut model = BTreeMap::new();
            for o in ops {
                match o {
                    Op::Insert(k, v) => prop_assert_eq!(ours.insert(k, v), model.insert(k, v)),
                    Op::Remove(k) => prop_assert_eq!(ours.remove(&k), model.remove(&k)),
                }
                prop_assert_eq!(ours.len(), model.len());
            }
            let a: Vec<(Id, u32)> = ours.keys().copied().zip(ours.values().copied()).collect();
            let b: Vec<(Id, u32)> = model.into_iter().collect();
            for (k, v) in &b {
                prop_assert_eq!(ours.get(k), Some(v));
                prop_assert!(ours.contains_key(k));
            }
            prop_assert_eq!(a, b);
        }
    }
}
