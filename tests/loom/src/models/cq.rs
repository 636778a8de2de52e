//! The real completion queue (src/cq.rs) over real futures: completions on other threads
//! while the owner watches and drains. The eventfd is a real one (its accesses are all
//! under the queue's lock, which the model orders).

use loom::thread;

use super::model;
use crate::cq::CompletionQueue;
use crate::future::{Future, Value};
use crate::time::Deadline;

fn readable(fd: i32) -> bool {
    let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd, no timeout.
    unsafe { libc::poll(&mut p, 1, 0) == 1 }
}

/// Two futures completed on two threads, watched before and after: the owner gets each
/// tag exactly once, `wait` wakes for them, and the fd is readable exactly while tags wait.
#[test]
fn every_tag_once_and_the_fd_follows_the_list() {
    model(|| {
        let q = CompletionQueue::new().unwrap();
        let (a, b) = (Future::new(), Future::new());
        q.watch(&a, 1);
        let (a2, b2) = (a.clone(), b.clone());
        let ta = thread::spawn(move || a2.complete(Ok(Value::Empty)).unwrap());
        let tb = thread::spawn(move || b2.complete(Ok(Value::Empty)).unwrap());
        q.watch(&b, 2);
        let mut got = Vec::new();
        while got.len() < 2 {
            assert!(q.wait(Deadline::Never));
            assert!(readable(q.fd()), "tags wait but the fd is not readable");
            got.extend(q.drain_all());
        }
        ta.join().unwrap();
        tb.join().unwrap();
        got.sort();
        assert_eq!(got, vec![1, 2]);
        assert!(!readable(q.fd()), "drained but still readable");
        assert_eq!(q.outstanding(), 0);
    });
}
