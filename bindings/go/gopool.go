package cfutures

/*
#include <stdlib.h>
#include "cfutures.h"
#include "shim.h"
*/
import "C"

import (
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Go closures on goroutines. A thread pool's Submit and TrySubmit closures run on runner
// goroutines of the pool (at most max-workers at once, started on demand, parked when idle)
// fed from a queue in Go; each closure's Future is still a library future (a standalone
// cfut_future that the runner starts and completes), so Wait, AsCompleted, completion
// queues and C code holding Raw() see it like any other. Per task this costs three cgo
// calls and no OS thread hand-off, against a hand-off from a library thread to a goroutine
// and back on the library path (WithDirectGoTasks, WithInitializer, SubmitCtx, groups).
//
// Who does what with a job:
//   - its state (jobPending → jobTaken | jobCancelled | jobDrained) says who took it out of
//     the queue: a runner, an inline wait or the caller (taken), a cancellation while queued
//     (cancelled: it stays in the queue until a runner pops it), shutdown (drained);
//   - the C future's own state decides run versus cancelled (cfutgo_go_start); whoever sees
//     a cancellation first settles the Go side, once (cancelledGo): Cancel, RequestCancel,
//     shutdown, the runner that pops the job, or the done-callback that Raw installs so
//     that a cancellation by C code reaches Go at once;
//   - the runner's C reference is dropped by whoever ends the job: cfutgo_go_start (when
//     cancelled) or cfutgo_go_finish, the runner popping a cancelled job, or shutdown.

const (
	jobPending uint32 = iota
	jobTaken
	jobCancelled
	jobDrained
)

// goJob is a queued Go closure; it lives inside its Future.
type goJob struct {
	state   atomic.Uint32
	pool    *goPool
	cf      *C.cfut_future         // the runner's reference
	settled atomic.Bool            // a cancellation was settled in Go
	exposed atomic.Bool            // C code may hold the C future (Raw, a completion queue)
	watched atomic.Bool            // Raw installed the done-callback
	owner   atomic.Pointer[runCtx] // who runs it: for cycle detection
	done    <-chan struct{}        // its Future's
	task    goRunnable
}

type goRunnable interface {
	// runGo runs the closure on the calling goroutine and completes the future; it returns
	// how it ended (counted by the caller). A Goexit in the closure counts itself.
	runGo(rc *runCtx) jobEnd
	cancelledGo()
}

// goCancelWatch is the done-callback's task for a Go closure's future handed to C code.
type goCancelWatch struct{ j *goJob }

func (goCancelWatch) run(*C.cfut_result) C.int32_t { return -1 } // never submitted

func (w goCancelWatch) onDone(d *doneInfo) bool {
	if d.cancelled {
		w.j.task.cancelledGo()
	}
	return false
}

type jobEnd uint8

const (
	endSkipped jobEnd = iota // cancelled before it ran, or completed from C
	endOK
	endFailed
)

// runCtx is a goroutine running a pool's Go tasks (a runner, or one that runs a task
// inline or for its caller). waitingOn is the job it is blocked on (under waitMu).
type runCtx struct {
	pool      *goPool
	wake      chan struct{} // a runner's: one token per pop from idle
	waitingOn *goJob
}

// waitMu guards every runCtx.waitingOn: a wait that would close a cycle
// checks and registers under it, so the second of two waits closing a cycle sees the first.
var waitMu sync.Mutex

// goPool is the Go side of a thread pool.
type goPool struct {
	x           *exHandle
	max         int
	maxQueued   int
	whenFull    WhenFull
	inline      bool
	idleTimeout time.Duration

	mu       sync.Mutex
	q        []*goJob // q[head:] is the queue (cancelled jobs included)
	head     int
	idle     []*runCtx
	runners  int // runner goroutines alive (idle ones included)
	running  int
	pending  int // queued and not cancelled: what max-queued bounds
	shut     bool
	room     chan struct{} // closed when pending drops (nil: nobody waits for room)
	quiet    chan struct{} // closed when nothing is pending or running (nil: nobody waits)
	counters goCounters
}

type goCounters struct {
	submitted, completed, failed, cancelled, rejected, peak uint64
}

func newGoPool(x *exHandle, maxWorkers int, cfg *threadPoolConfig) *goPool {
	return &goPool{x: x, max: max(maxWorkers, 1), maxQueued: cfg.maxQueued, whenFull: cfg.whenFull,
		inline: !cfg.noInline, idleTimeout: cfg.idleTimeout}
}

// submitGoroutine queues f's closure (its fn is set) on ex's runners. try: TrySubmit, which
// waits up to timeout for room whatever WhenFull says and reports a full queue instead of
// failing the future. The returned error is the refusal (f is then not queued).
func submitGoroutine[T any](ex *Executor, f *Future[T], try bool, timeout time.Duration) error {
	p := ex.h.gp
	startDispatcher()
	j := &f.gj
	j.pool, j.task, j.done = p, f, f.done
	var cf *C.cfut_future
	if st := C.cfutgo_go_new(&cf); st != C.CFUT_OK {
		return Status(st)
	}
	j.cf = cf
	f.ref.ptr = cf
	callerRuns, err := p.enqueue(j, try, timeout)
	if err != nil {
		f.ref.ptr = nil
		C.cfutgo_go_discard(cf)
		return err
	}
	if callerRuns {
		p.runAside(j)
	}
	return nil
}

// enqueue admits j under the pool's flow control; callerRuns says the caller must run it
// (WhenFullCallerRuns on a full queue; it already counts as running).
func (p *goPool) enqueue(j *goJob, try bool, timeout time.Duration) (callerRuns bool, err error) {
	var deadline time.Time
	p.mu.Lock()
	for p.maxQueued > 0 && p.pending >= p.maxQueued && !p.shut {
		mode := p.whenFull
		if try {
			mode = WhenFullBlock
			if timeout == 0 {
				mode = WhenFullReject
			}
		}
		// One of the pool's own tasks never waits for room (its runner may be the one that
		// would make it): as the library does, it runs the closure itself or is refused.
		if mode == WhenFullBlock && p.x.ownTask() {
			mode = WhenFullCallerRuns
			if try {
				mode = WhenFullReject
			}
		}
		switch mode {
		case WhenFullReject:
			p.counters.rejected++
			p.mu.Unlock()
			return false, ErrQueueFull
		case WhenFullCallerRuns:
			j.state.Store(jobTaken)
			p.counters.submitted++
			p.running++
			p.mu.Unlock()
			return true, nil
		}
		if p.room == nil {
			p.room = make(chan struct{})
		}
		room := p.room
		p.mu.Unlock()
		if try && timeout > 0 {
			if deadline.IsZero() {
				deadline = time.Now().Add(timeout)
			}
			t := time.NewTimer(time.Until(deadline))
			select {
			case <-room:
				t.Stop()
			case <-t.C:
				p.mu.Lock()
				if p.pending >= p.maxQueued && !p.shut {
					p.counters.rejected++
					p.mu.Unlock()
					return false, ErrQueueFull
				}
				continue // room came as the timer fired (p.mu is held)
			}
		} else {
			<-room
		}
		p.mu.Lock()
	}
	if p.shut {
		p.mu.Unlock()
		return false, ErrShutdown
	}
	p.q = append(p.q, j)
	p.pending++
	p.counters.submitted++
	p.counters.peak = max(p.counters.peak, uint64(p.pending))
	if n := len(p.idle); n > 0 {
		rc := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		rc.wake <- struct{}{}
		return false, nil
	}
	if p.runners < p.max {
		p.runners++
		p.mu.Unlock()
		go p.loop(&runCtx{pool: p, wake: make(chan struct{}, 1)})
		return false, nil
	}
	p.mu.Unlock()
	return false, nil
}

// loop is a runner goroutine: it runs queued jobs until shutdown, parking when idle (and
// exiting after idleTimeout, if set).
func (p *goPool) loop(rc *runCtx) {
	id := goid()
	p.x.tasks.Store(id, nil)
	runningTasks.Store(id, &taskCtx{run: rc})
	normal := false
	defer func() {
		runningTasks.Delete(id)
		p.x.tasks.Delete(id)
		if !normal { // a task called runtime.Goexit: this goroutine ends, a new one goes on
			go p.loop(&runCtx{pool: p, wake: make(chan struct{}, 1)})
		}
	}()
	end := endSkipped
	started := false
	for {
		j := p.next(rc, started, end)
		if j == nil {
			normal = true
			return
		}
		started = true
		end = j.task.runGo(rc)
	}
}

// next counts how the last job ended (if one ran) and takes the next one, parking while
// the queue is empty; nil when the runner must exit.
func (p *goPool) next(rc *runCtx, ran bool, end jobEnd) *goJob {
	p.mu.Lock()
	if ran {
		p.ended(end)
	}
	for {
		for p.head < len(p.q) {
			j := p.q[p.head]
			p.q[p.head] = nil
			p.head++
			if p.head >= 1024 && 2*p.head >= len(p.q) { // a queue that never empties
				n := copy(p.q, p.q[p.head:])
				clear(p.q[n:])
				p.q, p.head = p.q[:n], 0
			}
			if j.state.CompareAndSwap(jobPending, jobTaken) {
				p.pending--
				p.running++
				p.signalRoom()
				p.mu.Unlock()
				return j
			}
			if j.state.Load() == jobCancelled { // drop the runner's reference, off the lock
				p.mu.Unlock()
				C.cfut_future_release(j.cf)
				p.mu.Lock()
			}
		}
		p.q, p.head = p.q[:0], 0
		p.signalQuiet()
		if p.shut {
			p.runners--
			p.signalQuiet()
			p.mu.Unlock()
			return nil
		}
		p.idle = append(p.idle, rc)
		p.mu.Unlock()
		if !p.park(rc) {
			return nil
		}
		p.mu.Lock()
	}
}

// park waits for a wake token; false when the idle timeout passed first and rc left the
// pool (it was still idle).
func (p *goPool) park(rc *runCtx) bool {
	if p.idleTimeout <= 0 {
		<-rc.wake
		return true
	}
	t := time.NewTimer(p.idleTimeout)
	select {
	case <-rc.wake:
		t.Stop()
		return true
	case <-t.C:
	}
	p.mu.Lock()
	for i, r := range p.idle {
		if r == rc {
			p.idle = append(p.idle[:i], p.idle[i+1:]...)
			p.runners--
			p.signalQuiet()
			p.mu.Unlock()
			return false
		}
	}
	p.mu.Unlock()
	<-rc.wake // popped meanwhile: its token is on the way
	return true
}

// ended counts a job that was taken (under p.mu).
func (p *goPool) ended(end jobEnd) {
	p.running--
	switch end {
	case endOK:
		p.counters.completed++
	case endFailed:
		p.counters.failed++
	}
	p.signalQuiet()
}

func (p *goPool) endedLocked(end jobEnd) {
	p.mu.Lock()
	p.ended(end)
	p.mu.Unlock()
}

func (p *goPool) signalRoom() {
	if p.room != nil {
		close(p.room)
		p.room = nil
	}
}

// quietLocked: nothing queued or running, and after shutdown every runner gone.
func (p *goPool) quietLocked() bool {
	return p.pending == 0 && p.running == 0 && (!p.shut || p.runners == 0)
}

func (p *goPool) signalQuiet() {
	if p.quiet != nil && p.quietLocked() {
		close(p.quiet)
		p.quiet = nil
	}
}

// onCancelled records that j's future was cancelled while queued (from onDone).
func (p *goPool) onCancelled(j *goJob) {
	p.mu.Lock()
	p.counters.cancelled++
	if j.state.CompareAndSwap(jobPending, jobCancelled) {
		p.pending--
		p.signalRoom()
		p.signalQuiet()
	}
	p.mu.Unlock()
}

// shutdown stops accepting jobs; cancelFutures cancels the queued ones. Idle runners exit
// once the queue is empty. Idempotent.
func (p *goPool) shutdown(cancelFutures bool) {
	p.mu.Lock()
	p.shut = true
	for _, rc := range p.idle {
		rc.wake <- struct{}{}
	}
	p.idle = nil
	p.signalRoom() // blocked submitters see shut
	var drained, dropped []*goJob
	if cancelFutures {
		for _, j := range p.q[p.head:] {
			if j.state.CompareAndSwap(jobPending, jobDrained) {
				p.pending--
				drained = append(drained, j)
			} else if j.state.Load() == jobCancelled {
				dropped = append(dropped, j)
			}
		}
		clear(p.q[p.head:])
		p.q, p.head = p.q[:0], 0
		p.signalQuiet()
	}
	p.mu.Unlock()
	for _, j := range drained {
		C.cfutgo_go_cancel_queued(j.cf)
		j.task.cancelledGo()
	}
	for _, j := range dropped {
		C.cfut_future_release(j.cf)
	}
}

// waitQuiet blocks until no job is queued or running (and, after shutdown, every runner
// goroutine has exited).
func (p *goPool) waitQuiet() {
	p.mu.Lock()
	for !p.quietLocked() {
		if p.quiet == nil {
			p.quiet = make(chan struct{})
		}
		q := p.quiet
		p.mu.Unlock()
		<-q
		p.mu.Lock()
	}
	p.mu.Unlock()
}

// stats adds the Go side's counters to s: runners count as workers.
func (p *goPool) stats(s *Stats) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s.Workers += p.runners
	s.IdleWorkers += len(p.idle)
	s.Queued += uint64(p.pending)
	s.Running += uint64(p.running)
	c := p.counters
	s.Submitted += c.submitted
	s.Completed += c.completed
	s.Failed += c.failed
	s.Cancelled += c.cancelled
	s.Rejected += c.rejected
	s.PeakQueued += c.peak
}

// runAside runs the taken job j on a goroutine of its own, registered as a task of p, and
// waits for it: for the caller (WhenFullCallerRuns) and for inline waits. A Goexit in the
// closure ends only that goroutine.
func (p *goPool) runAside(j *goJob) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		rc := &runCtx{pool: p}
		id := goid()
		p.x.tasks.Store(id, nil)
		runningTasks.Store(id, &taskCtx{run: rc})
		defer p.x.tasks.Delete(id)
		defer runningTasks.Delete(id)
		p.endedLocked(j.task.runGo(rc))
	}()
	<-done
}

// runGo: see goRunnable.
func (f *Future[T]) runGo(rc *runCtx) (end jobEnd) {
	j := &f.gj
	j.owner.Store(rc)
	switch C.cfutgo_go_start(j.cf) {
	case 0: // cancelled while queued
		f.cancelledGo()
		return endSkipped
	case 2: // completed from C before it ran
		d := doneInfoOf(j.cf)
		if j.settled.CompareAndSwap(false, true) && f.onDone(&d) {
			C.cfut_future_release(j.cf)
		}
		C.cfut_future_release(j.cf)
		return endSkipped
	}
	f.mu.Lock()
	fn := f.fn
	f.fn = nil
	f.mu.Unlock()
	normal := false
	defer func() {
		if normal {
			return
		}
		var err error
		if r := recover(); r != nil {
			err = &PanicError{Value: r, Stack: debug.Stack()}
			f.finishGo(*new(T), err)
			end = endFailed
			return
		}
		// Neither returned nor panicked: Goexit, which goes on ending this goroutine.
		f.finishGo(*new(T), &GoexitError{Stack: debug.Stack()})
		rc.pool.endedLocked(endFailed)
	}()
	v, err := fn()
	normal = true
	f.finishGo(v, err)
	if err != nil {
		return endFailed
	}
	return endOK
}

// cancelledGo settles, once, a Go closure's future whose C future was cancelled before it
// ran (onDone also counts it and takes the job out of the pending count).
func (f *Future[T]) cancelledGo() {
	if !f.gj.settled.CompareAndSwap(false, true) {
		return
	}
	d := doneInfo{cancelled: true}
	if f.onDone(&d) {
		C.cfut_future_release(f.gj.cf) // the Future's own reference
	}
}

// watchForC installs, once, the done-callback that tells Go of a cancellation by C code.
func (j *goJob) watchForC(ptr *C.cfut_future) {
	if j.pool == nil || !j.watched.CompareAndSwap(false, true) {
		return
	}
	j.exposed.Store(true)
	startDispatcher()
	h := newTaskHandle(goCancelWatch{j})
	if C.cfutgo_go_watch(ptr, C.uintptr_t(h)) != C.CFUT_OK {
		h.delete()
	}
}

// finishGo completes the C future, then the Go side, with the closure's outcome.
func (f *Future[T]) finishGo(v T, err error) {
	// Drop the Future's own reference too unless a caller in flight (Cancel, Raw...) holds
	// it: that one drops it (see futRef). The runner's reference keeps it alive meanwhile.
	drop := f.ref.uses.Or(closedBit) == 0
	if drop && !f.gj.exposed.Load() {
		// Nobody but this Future ever held the C future, and nobody can any more: its
		// outcome would never be read, so let it go unset (no waiter, callback or hook).
		C.cfutgo_go_discard(f.gj.cf)
	} else {
		var msg *C.char
		if err != nil {
			msg = C.CString(safeErrorString(err))
			defer C.free(unsafe.Pointer(msg))
		}
		C.cfutgo_go_finish(f.gj.cf, boolInt(err != nil), msg, boolInt(drop))
	}
	f.mu.Lock()
	f.val, f.err = v, err
	f.fired = true
	cbs := f.callbacks
	f.callbacks = nil
	f.mu.Unlock()
	watchFailure(f, f.obs, err)
	close(f.done)
	if len(cbs) > 0 {
		go f.runCallbacks(cbs)
	}
}

// currentRunner is the calling goroutine's runCtx, if it runs a goroutine-path task.
func currentRunner() *runCtx {
	if v, ok := runningTasks.Load(goid()); ok {
		return v.(*taskCtx).run
	}
	return nil
}

// waitFor is a deadlock-proof wait of a goroutine-path task on j (nil: not a Go closure
// of a goroutine pool, nothing to do): a pending job of its own pool runs inline, now, on a
// goroutine of its own; a wait that would close a cycle of tasks waiting on each other
// returns ErrWouldDeadlock; otherwise it waits up to ns (or until cancel) for done.
func (rc *runCtx) waitFor(j *goJob, done <-chan struct{}, ns uint64, cancel <-chan struct{}) error {
	if j == nil || j.pool == nil || isClosed(done) {
		return nil
	}
	p := j.pool
	if p == rc.pool && p.inline {
		p.mu.Lock()
		taken := j.state.CompareAndSwap(jobPending, jobTaken)
		if taken {
			p.pending--
			p.running++
			p.signalRoom()
		}
		p.mu.Unlock()
		if taken {
			waitMu.Lock()
			rc.waitingOn = j
			waitMu.Unlock()
			p.runAside(j)
			waitMu.Lock()
			rc.waitingOn = nil
			waitMu.Unlock()
			return nil
		}
	}
	if ns <= 1 {
		return nil // a poll: nothing to run here
	}
	waitMu.Lock()
	// Follow "runs on" and "waits on" from j; reaching this goroutine closes a cycle. A job
	// already done ends the chain (its waiter is about to wake).
	for o, hops := j.owner.Load(), 0; o != nil && hops < 1<<16; hops++ {
		if o == rc {
			waitMu.Unlock()
			return ErrWouldDeadlock
		}
		w := o.waitingOn
		if w == nil || isClosed(w.done) {
			break
		}
		o = w.owner.Load()
	}
	rc.waitingOn = j
	waitMu.Unlock()
	var timeout <-chan time.Time
	if ns != forever {
		t := time.NewTimer(time.Duration(ns))
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-done:
	case <-cancel:
	case <-timeout:
	}
	waitMu.Lock()
	rc.waitingOn = nil
	waitMu.Unlock()
	return nil
}

// goJobOf is f's job when it is a goroutine-path Go closure.
func (f *Future[T]) goJobOf() *goJob {
	if f.gj.pool == nil {
		return nil
	}
	return &f.gj
}
