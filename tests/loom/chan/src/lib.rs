//! `bounded`, `Sender::try_send`, `Receiver::{try_recv, len}` with crossbeam's signatures.

use std::collections::VecDeque;
use std::sync::Arc;

use loom::sync::Mutex;

struct Chan<T> {
    cap: usize,
    q: Mutex<VecDeque<T>>,
}

pub struct Sender<T>(Arc<Chan<T>>);
pub struct Receiver<T>(Arc<Chan<T>>);

pub enum TrySendError<T> {
    Full(T),
    Disconnected(T),
}

#[derive(Debug)]
pub struct TryRecvError;

pub fn bounded<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    let c = Arc::new(Chan { cap, q: Mutex::new(VecDeque::new()) });
    (Sender(c.clone()), Receiver(c))
}

impl<T> Sender<T> {
    pub fn try_send(&self, m: T) -> Result<(), TrySendError<T>> {
        let mut q = self.0.q.lock().unwrap();
        if q.len() == self.0.cap {
            return Err(TrySendError::Full(m));
        }
        q.push_back(m);
        Ok(())
    }
}

impl<T> Receiver<T> {
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.0.q.lock().unwrap().pop_front().ok_or(TryRecvError)
    }

    pub fn len(&self) -> usize {
        self.0.q.lock().unwrap().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
