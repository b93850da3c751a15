// Command etcd is etcd's own server, built from its Go module at the version kube-apiserver is
// released against, so the tests' API servers store their objects in a real etcd.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
