// Tracepoint program: for getpid() calls of one process (target_tgid, set before load) it sends a
// record {tgid, seq, magic} to a ring buffer, and counts them in a global.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct event {
	__u32 tgid;
	__u32 seq;
	__u64 magic;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

const volatile __u32 target_tgid = 0;
struct event *event_type_hint __attribute__((unused)); /* puts struct event into BTF */
__u32 seq = 0;

SEC("tracepoint/syscalls/sys_enter_getpid")
int on_getpid(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct event *e;

	if (tgid != target_tgid)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->tgid = tgid;
	e->seq = __sync_fetch_and_add(&seq, 1);
	e->magic = 0x5059425046ULL;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
