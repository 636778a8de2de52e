package cfutures_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	cf "github.com/cfutures/cfutures/bindings/go"
)

func ExampleSubmit() {
	ex, err := cf.NewThreadPool(cf.WithMaxWorkers(2))
	if err != nil {
		panic(err)
	}
	defer ex.Close()

	f := cf.Submit(ex, func() (string, error) { return "hello from a library worker", nil })
	s, err := f.Result(context.Background())
	fmt.Println(s, err)

	g := cf.Submit(ex, func() (int, error) { panic("oops") })
	var pe *cf.PanicError
	fmt.Println(errors.As(g.Err(), &pe), pe.Value)
	// Output:
	// hello from a library worker <nil>
	// true oops
}

func ExampleMap() {
	ex, _ := cf.NewThreadPool()
	defer ex.Close()
	for sq, err := range cf.Map(ex, func(x int) (int, error) { return x * x, nil }, []int{1, 2, 3, 4}) {
		fmt.Println(sq, err)
	}
	// Output:
	// 1 <nil>
	// 4 <nil>
	// 9 <nil>
	// 16 <nil>
}

func ExampleAsCompleted() {
	ex, _ := cf.NewThreadPool(cf.WithMaxWorkers(3))
	defer ex.Close()
	urls := map[*cf.Future[int]]string{}
	var fs []*cf.Future[int]
	for i, url := range []string{"slow.example", "fast.example", "medium.example"} {
		delay := []time.Duration{300, 10, 150}[i] * time.Millisecond
		f := cf.Submit(ex, func() (int, error) { time.Sleep(delay); return len(url), nil })
		urls[f] = url
		fs = append(fs, f)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for f, err := range cf.AsCompleted(ctx, fs...) {
		if err != nil {
			fmt.Println(err)
			break
		}
		n, _ := f.Result(ctx)
		fmt.Println(urls[f], n)
	}
	// Output:
	// fast.example 12
	// medium.example 14
	// slow.example 12
}

func ExampleWait() {
	ex, _ := cf.NewThreadPool(cf.WithMaxWorkers(2))
	defer ex.Close()
	quick := cf.Submit(ex, func() (int, error) { return 1, nil })
	stuck := cf.Submit(ex, func() (int, error) { time.Sleep(300 * time.Millisecond); return 2, nil })
	done, notDone, err := cf.Wait([]*cf.Future[int]{quick, stuck}, cf.AllCompleted, 50*time.Millisecond)
	fmt.Println(len(done), len(notDone), errors.Is(err, cf.ErrTimeout))
	// Output: 1 1 true
}
