module pforgo

go 1.22
