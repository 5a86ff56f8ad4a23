module github.com/dmbench/dmbench

go 1.26.8
