//! The pool end to end, with task functions of this test binary (workers re-execute it
//! and the library's constructor takes them over before the test harness starts).
use super::*;
use crate::future::Sink;
use crate::time::Deadline;
use std::ffi::c_void;

unsafe extern "C" fn double_it(input: *const c_void, len: usize, out: *mut Sink) -> i32 {
    // SAFETY: the pool passes `len` readable bytes and a valid sink.
    let (b, sink) = unsafe { (std::slice::from_raw_parts(input as *const u8, len), &mut *out) };
    let v = u64::from_le_bytes(b.try_into().unwrap_or([0; 8])) * 2;
    sink.set_bytes(&v.to_le_bytes());
    0
}

unsafe extern "C" fn die(_: *const c_void, _: usize, _: *mut Sink) -> i32 {
    // SAFETY: ends this worker process, which is the point.
    unsafe { libc::_exit(7) }
}

unsafe extern "C" fn hang(_: *const c_void, _: usize, _: *mut Sink) -> i32 {
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

unsafe extern "C" fn no_map(_: *const c_void, _: *const c_void, _: *mut c_void) -> i32 {
    0
}

fn value(f: &Future) -> u64 {
    match f.result(Deadline::after(Duration::from_secs(30))) {
        Ok(Value::Bytes(b)) => u64::from_le_bytes((&b[..]).try_into().unwrap()),
        _ => panic!("no bytes"),
    }
}

#[test]
fn tasks_deaths_and_timeouts() {
    for method in [StartMethod::Spawn, StartMethod::ForkServer] {
        let pool = ProcessPool::new(ProcessPoolOptions {
            max_workers: 2,
            task_timeout: Some(Duration::from_millis(300)),
            start_method: method,
            ..Default::default()
        })
        .unwrap();
        let fs: Vec<Future> = (0..20u64).map(|i| pool.submit_task(double_it, &i.to_le_bytes()).unwrap()).collect();
        for (i, f) in fs.iter().enumerate() {
            assert_eq!(value(f), 2 * i as u64);
        }
        let d = pool.submit_task(die, &[]).unwrap();
        let e = d.error(Deadline::Never).unwrap().unwrap();
        assert_eq!((e.status, e.code), (Status::WorkerDied, 7));
        let h = pool.submit_task(hang, &[]).unwrap();
        assert_eq!(h.error(Deadline::Never).unwrap().unwrap().status, Status::Timeout);
        assert_eq!(value(&pool.submit_task(double_it, &21u64.to_le_bytes()).unwrap()), 42);
        let e = pool.submit_job(Job::boxed(|_| 0)).err().unwrap();
        assert_eq!(e.status(), Status::Unsupported);
        assert!(e.message().unwrap().contains("cfut_executor_submit_bytes"));
        assert_eq!(pool.shutdown(true, false), Ok(()));
        assert_eq!(pool.submit_task(double_it, &[]).err(), Some(Status::Shutdown.into()));
        assert!(pool.pids().is_empty());
    }
}

#[test]
fn oversized_submits_are_refused_with_a_message() {
    let pool = ProcessPool::new(ProcessPoolOptions { max_workers: 1, ..Default::default() }).unwrap();
    let items = [0u8; 8];
    // SAFETY: the sizes are refused before `items` is read; nothing is written.
    let e = unsafe { pool.submit_map_chunk(no_map, &[], items.as_ptr(), 1, 1 << 40, 8, 0, 0, crate::time::Deadline::Never) }.err().unwrap();
    assert_eq!(e.status(), Status::InvalidArgument);
    assert!(e.message().unwrap().contains("context and items"));
    // SAFETY: as above.
    let e = unsafe { pool.submit_map_chunk(no_map, &[], items.as_ptr(), 1, 8, 1 << 40, 0, 0, crate::time::Deadline::Never) }.err().unwrap();
    assert!(e.message().unwrap().contains("results"));
    let e = pool.locate(0).err().unwrap();
    assert_eq!(e.status(), Status::Unsupported);
    assert!(e.message().is_some());
}
