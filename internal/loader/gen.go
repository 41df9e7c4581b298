package loader

// The capture program (bpf/headers.c) compiled for little-endian BPF, with
// Go bindings for its objects and for the types Go reads: struct event,
// struct head_key and the enums (syscalls, directions, protocols, lost
// reasons, error sites). The generated capture_*_bpfel.go and .o files are
// committed, so building propwatch needs no clang; `make generate`
// rebuilds them (clang, llvm-strip and libbpf-dev's headers).
//go:generate go tool bpf2go -tags linux -target amd64,arm64 -type event -type head_key -type conn_key -type owner -type syscall_id -type syscall_nr -type lost_reason -type error_site -type direction -type proto -type proc_event -type go_layout -type ssl_key capture ../../bpf/headers.c -- -mcpu=v3 -Wall -Werror -Wpadded
