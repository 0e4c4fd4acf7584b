/* core_kernel.h: the few kernel types the CO-RE corpus reads, declared locally with
 * preserve_access_index so clang emits CO-RE relocations. Never a full vmlinux.h. */
#ifndef PYBPF_CORE_KERNEL_H
#define PYBPF_CORE_KERNEL_H

typedef int pid_t;

struct sched_entity {
	unsigned long long vruntime;
	unsigned long long sum_exec_runtime;
} __attribute__((preserve_access_index));

struct mm_struct {
	unsigned long start_stack;
} __attribute__((preserve_access_index));

struct rlimit {
	unsigned long rlim_cur;
	unsigned long rlim_max;
} __attribute__((preserve_access_index));

struct signal_struct {
	int nr_threads;
	struct rlimit rlim[16];
} __attribute__((preserve_access_index));

struct task_struct {
	struct sched_entity se;
	unsigned int in_execve: 1;
	unsigned int sched_reset_on_fork: 1;
	unsigned int frozen: 1;
	pid_t pid;
	pid_t tgid;
	struct task_struct *real_parent;
	struct mm_struct *mm;
	struct signal_struct *signal;
	char comm[16];
} __attribute__((preserve_access_index));

enum pid_type {
	PIDTYPE_PID,
	PIDTYPE_TGID,
	PIDTYPE_PGID,
	PIDTYPE_SID,
	PIDTYPE_MAX,
};

#endif
