/* BTF test corpus: CO-RE relocations and line info (field offsets, existence, enum values). */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct task_like {
	int pid;
	int tgid;
	struct task_like *parent;
	unsigned int flags : 4;
	char comm[16];
} __attribute__((preserve_access_index));

enum state_like { ST_A = 1, ST_B = 2 };

int out_pid, out_exists, out_size, out_enum;

SEC("raw_tp/sys_enter")
int read_task(void *ctx)
{
	struct task_like *t = (void *)ctx;
	struct task_like *p;

	p = BPF_CORE_READ(t, parent);
	out_pid = BPF_CORE_READ(p, tgid);
	out_exists = bpf_core_field_exists(t->comm);
	out_size = bpf_core_type_size(struct task_like);
	out_enum = bpf_core_enum_value(enum state_like, ST_B);
	return 0;
}

SEC("tp/syscalls/sys_enter_write")
int second(void *ctx)
{
	out_pid += 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
