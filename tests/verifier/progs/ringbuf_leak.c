/* Verifier test program: reserves a ring buffer record and forgets to submit it on one path. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 4096);
} events SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getpid")
int leak_on_odd_pid(void *ctx)
{
    __u64 *rec = bpf_ringbuf_reserve(&events, sizeof(*rec), 0);
    if (!rec)
        return 0;
    *rec = bpf_get_current_pid_tgid();
    if (*rec & 1) /* BRANCH: the path that leaks */
        return 0; /* BUG: record leaked */
    bpf_ringbuf_submit(rec, 0);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
