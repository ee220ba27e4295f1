//! The precision queue: the wake-ups due within the next `lead`, held in memory and released
//! at their exact instant. A `BTreeMap` ordered by (instant, insertion number) and a `Notify`
//! that wakes the firing loop when an earlier item arrives: `select! { sleep_until(next),
//! notified() }`, no polling.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use tokio::sync::Notify;
use tokio::time::Instant;

/// Items waiting for their instant, de-duplicated by a key (the fire message id), so a
/// wake-up delivered twice to the same scheduler is held once.
pub struct PrecisionQueue<T> {
    state: Mutex<State<T>>,
    notify: Notify,
}

struct State<T> {
    by_time: BTreeMap<(Instant, u64), (String, T)>,
    index: HashMap<String, (Instant, u64)>,
    next_seq: u64,
}

impl<T> Default for PrecisionQueue<T> {
    fn default() -> Self {
        Self {
            state: Mutex::new(State {
                by_time: BTreeMap::new(),
                index: HashMap::new(),
                next_seq: 0,
            }),
            notify: Notify::new(),
        }
    }
}

impl<T> PrecisionQueue<T> {
    /// Holds `item` until `at`. If an item with the same `key` is held already, the new one
    /// is given back (`Err`), for the caller to settle as a duplicate.
    pub fn push(&self, at: Instant, key: String, item: T) -> Result<(), T> {
        let mut state = self.state.lock().expect("queue lock");
        if state.index.contains_key(&key) {
            return Err(item);
        }
        let seq = state.next_seq;
        state.next_seq += 1;
        let earliest = state
            .by_time
            .keys()
            .next()
            .is_none_or(|first| (at, seq) < *first);
        state.index.insert(key.clone(), (at, seq));
        state.by_time.insert((at, seq), (key, item));
        drop(state);
        if earliest {
            self.notify.notify_one();
        }
        Ok(())
    }

    /// Changes the item held under `key`, if one is still held. Returns whether one was.
    pub fn update(&self, key: &str, f: impl FnOnce(&mut T)) -> bool {
        let mut state = self.state.lock().expect("queue lock");
        let Some(at) = state.index.get(key).copied() else {
            return false;
        };
        match state.by_time.get_mut(&at) {
            Some((_, item)) => {
                f(item);
                true
            }
            None => false,
        }
    }

    /// How many items are held.
    pub fn len(&self) -> usize {
        self.state.lock().expect("queue lock").by_time.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes every item whose instant is at or before `now`, earliest first.
    pub fn pop_due(&self, now: Instant) -> Vec<T> {
        let mut state = self.state.lock().expect("queue lock");
        let mut due = Vec::new();
        while let Some(entry) = state.by_time.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let (key, item) = entry.remove();
            state.index.remove(&key);
            due.push(item);
        }
        due
    }

    /// Takes every item, due or not (at shutdown, to hand them back to the stream).
    pub fn drain(&self) -> Vec<T> {
        let mut state = self.state.lock().expect("queue lock");
        state.index.clear();
        std::mem::take(&mut state.by_time)
            .into_values()
            .map(|(_, item)| item)
            .collect()
    }

    /// Waits until at least one item is due and takes all that are.
    pub async fn next_due(&self) -> Vec<T> {
        loop {
            let next = self
                .state
                .lock()
                .expect("queue lock")
                .by_time
                .keys()
                .next()
                .map(|(at, _)| *at);
            let now = Instant::now();
            match next {
                Some(at) if at <= now => return self.pop_due(now),
                Some(at) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(at) => {}
                        _ = self.notify.notified() => {}
                    }
                }
                None => self.notify.notified().await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn releases_in_order_at_the_instant() {
        let q = PrecisionQueue::default();
        let t0 = Instant::now();
        q.push(t0 + Duration::from_millis(30), "b".into(), "b")
            .unwrap();
        q.push(t0 + Duration::from_millis(10), "a".into(), "a")
            .unwrap();
        q.push(t0 + Duration::from_millis(30), "c".into(), "c")
            .unwrap();
        assert_eq!(q.next_due().await, vec!["a"]);
        assert_eq!(Instant::now() - t0, Duration::from_millis(10));
        assert_eq!(q.next_due().await, vec!["b", "c"]);
        assert_eq!(Instant::now() - t0, Duration::from_millis(30));
        assert!(q.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn an_earlier_item_wakes_the_waiter() {
        let q = std::sync::Arc::new(PrecisionQueue::default());
        let t0 = Instant::now();
        q.push(t0 + Duration::from_secs(10), "late".into(), 2)
            .unwrap();
        let waiter = tokio::spawn({
            let q = q.clone();
            async move { q.next_due().await }
        });
        tokio::time::sleep(Duration::from_millis(5)).await;
        q.push(t0 + Duration::from_millis(20), "early".into(), 1)
            .unwrap();
        assert_eq!(waiter.await.unwrap(), vec![1]);
        assert_eq!(Instant::now() - t0, Duration::from_millis(20));
    }

    #[test]
    fn duplicates_are_handed_back() {
        let q = PrecisionQueue::default();
        let now = Instant::now();
        assert!(q.push(now, "k".into(), 1).is_ok());
        assert_eq!(q.push(now, "k".into(), 2), Err(2));
        assert_eq!(q.pop_due(now), vec![1]);
        assert!(
            q.push(now, "k".into(), 3).is_ok(),
            "a key may come back once released"
        );
        assert_eq!(q.drain(), vec![3]);
    }

    #[test]
    fn a_held_item_can_be_changed_until_it_is_released() {
        let q = PrecisionQueue::default();
        let now = Instant::now();
        q.push(now, "k".into(), vec![1]).unwrap();
        assert!(q.update("k", |held| held.push(2)));
        assert!(!q.update("other", |held| held.push(3)));
        assert_eq!(q.pop_due(now), vec![vec![1, 2]]);
        assert!(!q.update("k", |held| held.push(4)), "released");
    }
}
