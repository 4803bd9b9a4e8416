//! Pages fetched in parallel come back in any order; they are handed on in the order they
//! were asked for. A page may only be asked for while fewer than `bound` pages lie between
//! it and the next one to hand on, so nothing runs ahead of the reader by more than that.

use std::collections::BTreeMap;

/// Items numbered from 0, held until every earlier one has been handed on.
#[derive(Debug)]
pub struct Reorder<T> {
    next: usize,
    bound: usize,
    held: BTreeMap<usize, T>,
}

impl<T> Reorder<T> {
    pub fn new(bound: usize) -> Self {
        Reorder {
            next: 0,
            bound: bound.max(1),
            held: BTreeMap::new(),
        }
    }

    /// Whether item `index` may be asked for now.
    pub fn may_start(&self, index: usize) -> bool {
        index < self.next + self.bound
    }

    /// Keeps an item that arrived.
    pub fn put(&mut self, index: usize, item: T) {
        debug_assert!(self.may_start(index) && index >= self.next);
        self.held.insert(index, item);
    }

    /// The next item in order, when it has arrived.
    pub fn pop(&mut self) -> Option<T> {
        let item = self.held.remove(&self.next)?;
        self.next += 1;
        Some(item)
    }

    /// The number of items handed on.
    pub fn handed_on(&self) -> usize {
        self.next
    }

    pub fn held(&self) -> usize {
        self.held.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_that_arrive_out_of_order_are_handed_on_in_order() {
        let mut r = Reorder::new(4);
        r.put(2, "c");
        r.put(1, "b");
        assert_eq!(r.pop(), None);
        r.put(0, "a");
        assert_eq!(r.pop(), Some("a"));
        assert_eq!(r.pop(), Some("b"));
        assert_eq!(r.pop(), Some("c"));
        assert_eq!(r.pop(), None);
        assert_eq!(r.handed_on(), 3);
        assert_eq!(r.held(), 0);
    }

    #[test]
    fn nothing_starts_more_than_the_bound_ahead_of_the_reader() {
        let mut r = Reorder::new(3);
        assert!(r.may_start(0) && r.may_start(2));
        assert!(!r.may_start(3));
        r.put(1, ());
        r.put(2, ());
        // Item 0 is slow: 3 may not start, however many others arrived.
        assert!(!r.may_start(3));
        r.put(0, ());
        assert_eq!(r.pop(), Some(()));
        assert!(r.may_start(3) && !r.may_start(4));
        assert!(r.held() <= 3);
    }

    #[test]
    fn a_bound_of_zero_still_lets_one_through() {
        let mut r = Reorder::new(0);
        assert!(r.may_start(0) && !r.may_start(1));
        r.put(0, 7);
        assert_eq!(r.pop(), Some(7));
    }
}
