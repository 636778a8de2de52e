module github.com/cfutures/cfutures/bindings/go

go 1.25
