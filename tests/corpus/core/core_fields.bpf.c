/* core_fields.bpf.c: CO-RE field reads (plain, nested struct, pointer chase, array element,
 * bitfields) from the current task, written to .bss. Never branches on CO-RE results. */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "core_kernel.h"

struct fields_out {
	__u64 vruntime;
	__u64 in_execve;
	__u64 frozen;
	__s32 pid;
	__s32 tgid;
	__s32 ppid;
	char comm1;
	char comm_last;
	__u32 pid_size;
	__u32 pid_offset_exists;
	__u64 start_stack;
	__u64 nofile_cur;
	__s32 nr_threads;
};

struct fields_out fields_result;
__u64 fields_calls;

SEC("tracepoint/syscalls/sys_enter_getppid")
int read_task_fields(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	fields_result.pid = BPF_CORE_READ(task, pid);
	fields_result.tgid = BPF_CORE_READ(task, tgid);
	fields_result.ppid = BPF_CORE_READ(task, real_parent, tgid);
	fields_result.vruntime = BPF_CORE_READ(task, se.vruntime);
	bpf_core_read(&fields_result.comm1, 1, &task->comm[1]);
	bpf_core_read(&fields_result.comm_last, 1, &task->comm[15]);
	fields_result.pid_size = bpf_core_field_size(task->pid);
	fields_result.pid_offset_exists = bpf_core_field_exists(task->mm);
	/* start_stack sits inside anonymous structs of the kernel's mm_struct */
	fields_result.start_stack = BPF_CORE_READ(task, mm, start_stack);
	/* an array of structs, then a member: access string 0:x:7:0 */
	fields_result.nofile_cur = BPF_CORE_READ(task, signal, rlim[7].rlim_cur);
	fields_result.nr_threads = BPF_CORE_READ(task, signal, nr_threads);
	fields_calls++;
	return 0;
}

SEC("raw_tp/sys_enter")
int read_task_bitfields(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	fields_result.in_execve = BPF_CORE_READ_BITFIELD_PROBED(task, in_execve);
	fields_result.frozen = BPF_CORE_READ_BITFIELD_PROBED(task, frozen);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
