/* Verifier test program: tp_btf arguments are typed kernel pointers; reads must stay inside the struct. */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

struct task_struct;
__u64 seen;

SEC("tp_btf/sched_switch")
int inside(__u64 *ctx)
{
    const char *next = (const char *)ctx[2];
    seen = *(const __u32 *)(next + 8);
    return 0;
}

SEC("tp_btf/sched_switch")
int beyond(__u64 *ctx)
{
    const char *next = (const char *)ctx[2];
    seen = *(const __u64 *)(next + 100000);  /* BUG: task_struct is smaller */
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
