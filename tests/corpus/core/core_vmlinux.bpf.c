/* core_vmlinux.bpf.c: CO-RE reads through the real kernel types of a bpftool-generated vmlinux.h
 * (the test fixtures generate it; it is never committed): deep pointer chains, unions, enums,
 * typedef'd fields and field-existence checks. Results go to .bss. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

struct vmlinux_out {
	__u64 arg_start;
	__u64 start_time;
	__u32 pid_ns_level;
	__s32 parent_pid;
	__u32 state;
	__u32 flags;
	__u32 has_state;
	__u32 task_state_max;
	__u32 uid;
	__u32 cpus;
};

struct vmlinux_out vmlinux_result;

SEC("raw_tp/sched_switch")
int BPF_PROG(deep_reads)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	vmlinux_result.arg_start = BPF_CORE_READ(task, mm, arg_start);
	vmlinux_result.start_time = BPF_CORE_READ(task, start_time);
	vmlinux_result.pid_ns_level = BPF_CORE_READ(task, nsproxy, pid_ns_for_children, level);
	vmlinux_result.parent_pid = BPF_CORE_READ(task, real_parent, pid);
	vmlinux_result.state = BPF_CORE_READ(task, __state);
	vmlinux_result.flags = BPF_CORE_READ(task, flags);
	vmlinux_result.has_state = bpf_core_field_exists(task->__state);
	vmlinux_result.task_state_max = bpf_core_enum_value(enum pid_type, PIDTYPE_MAX);
	vmlinux_result.uid = BPF_CORE_READ(task, cred, uid.val);
	vmlinux_result.cpus = BPF_CORE_READ(task, nr_cpus_allowed);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
