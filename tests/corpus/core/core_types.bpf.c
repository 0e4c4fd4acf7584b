/* core_types.bpf.c: CO-RE type and enum relocations (exists, size, ids, matches, enum values)
 * and ___flavor structs; results stored to .data without branching. */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "core_kernel.h"

/* A flavor of task_struct naming a field the kernel does not have, and one it has. */
struct task_struct___old {
	int pybpf_no_such_field;
	pid_t pid;
} __attribute__((preserve_access_index));

struct pybpf_no_such_type {
	int x;
};

enum pid_type___fake {
	PIDTYPE_BOGUS___fake = 42,
};

struct mm_struct___shape {
	unsigned long start_stack;
};

struct rlimit___shape {
	unsigned long rlim_cur;
	unsigned long rlim_max;
};

struct rlimit___wrong {
	int rlim_cur;
};

struct types_out {
	__u64 task_size;
	__u32 has_task;
	__u32 has_missing_type;
	__u32 sid_value;
	__u32 has_sid;
	__u32 has_bogus;
	__u32 local_id;
	__u32 target_id;
	__u32 matches_mm;
	__u32 old_has_missing;
	__u32 old_has_pid;
	__s32 old_pid;
	__u32 sched_entity_size;
	__u32 matches_rlimit;
	__u32 matches_wrong;
	__u32 has_pid_t;
	__u32 pid_t_size;
};

struct types_out types_result = { .task_size = 1 };

SEC("tp/syscalls/sys_enter_getppid")
int read_type_info(void *ctx)
{
	struct task_struct___old *old = (void *)bpf_get_current_task();

	types_result.task_size = bpf_core_type_size(struct task_struct);
	types_result.has_task = bpf_core_type_exists(struct task_struct);
	types_result.has_missing_type = bpf_core_type_exists(struct pybpf_no_such_type);
	types_result.sid_value = bpf_core_enum_value(enum pid_type, PIDTYPE_SID);
	types_result.has_sid = bpf_core_enum_value_exists(enum pid_type, PIDTYPE_SID);
	types_result.has_bogus = bpf_core_enum_value_exists(enum pid_type___fake, PIDTYPE_BOGUS___fake);
	types_result.local_id = bpf_core_type_id_local(struct task_struct);
	types_result.target_id = bpf_core_type_id_kernel(struct task_struct);
	types_result.matches_mm = bpf_core_type_matches(struct mm_struct___shape);
	types_result.old_has_missing = bpf_core_field_exists(old->pybpf_no_such_field);
	types_result.old_has_pid = bpf_core_field_exists(old->pid);
	types_result.old_pid = BPF_CORE_READ(old, pid);
	types_result.sched_entity_size = bpf_core_type_size(struct sched_entity);
	types_result.matches_rlimit = bpf_core_type_matches(struct rlimit___shape);
	types_result.matches_wrong = bpf_core_type_matches(struct rlimit___wrong);
	types_result.has_pid_t = bpf_core_type_exists(pid_t);
	types_result.pid_t_size = bpf_core_type_size(pid_t);
	return 0;
}

/* Reads a field the kernel lacks behind an existence check: libbpf poisons the read. */
SEC("tp/syscalls/sys_enter_getppid")
int guarded_missing_field(void *ctx)
{
	struct task_struct___old *old = (void *)bpf_get_current_task();

	if (bpf_core_field_exists(old->pybpf_no_such_field))
		types_result.old_pid = BPF_CORE_READ(old, pybpf_no_such_field);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
