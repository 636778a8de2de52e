module pforgo

go 1.25

require github.com/cfutures/cfutures/bindings/go v0.0.0

replace github.com/cfutures/cfutures/bindings/go => ../../../bindings/go
