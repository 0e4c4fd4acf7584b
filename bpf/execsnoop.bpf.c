/* execsnoop.bpf.c: traces execve(2)/execveat(2) on syscall tracepoints and sends one record per exec
 * through a BPF ring buffer (CO-RE; filters set in .rodata before load). Never writes user memory,
 * never blocks, never loops without a constant bound. */
#ifdef EXECSNOOP_USE_VMLINUX_H
/* Kernel types from the vmlinux.h that `pybpf btf dump /sys/kernel/btf/vmlinux --format c` writes. */
#include "vmlinux.h"
#else
#include <linux/types.h>
#include <linux/bpf.h>

/* Without vmlinux.h: the two task_struct fields we read (CO-RE relocates them all the same). */
struct task_struct {
	int tgid;
	struct task_struct *real_parent;
} __attribute__((preserve_access_index));
#endif
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "execsnoop.h"

/* Layouts from /sys/kernel/tracing/events/syscalls/sys_{enter,exit}_execve{,at}/format. */
struct syscall_enter_ctx {
	__u64 common;
	__s64 syscall_nr;
	__u64 args[6];
};

struct syscall_exit_ctx {
	__u64 common;
	__s64 syscall_nr;
	__s64 ret;
};

/* Filters: set from Python (spec.rodata[...]) before load. */
const volatile __u32 targ_uid = EXECSNOOP_INVALID_UID;
const volatile __u32 failed_mode = EXECSNOOP_SUCCESS_ONLY;
const volatile __u32 max_args = EXECSNOOP_DEFAULT_MAX_ARGS;
const volatile __u32 filter_cg = 0;
const volatile char targ_name[EXECSNOOP_TASK_COMM_LEN] = {};

static const struct execsnoop_event empty_event = {};

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} cgroup_map SEC(".maps");

/* In-flight execs: filled at syscall enter, sent and removed at exit. Keyed by tgid. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct execsnoop_event);
} execs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1024 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, EXECSNOOP_STAT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

static __always_inline void count_stat(__u32 index)
{
	__u64 *counter = bpf_map_lookup_elem(&stats, &index);

	if (counter)
		__sync_fetch_and_add(counter, 1);
}

static __always_inline int record_enter(const char *filename, const char *const *argv, __u32 flags)
{
	struct execsnoop_event *event;
	struct task_struct *task;
	const char *argp;
	__u32 uid, tgid, size;
	long ret, err;
	int i;

	if (filter_cg && bpf_current_task_under_cgroup(&cgroup_map, 0) != 1)
		return 0;
	uid = (__u32)bpf_get_current_uid_gid();
	if (targ_uid != EXECSNOOP_INVALID_UID && targ_uid != uid)
		return 0;
	tgid = bpf_get_current_pid_tgid() >> 32;
	err = bpf_map_update_elem(&execs, &tgid, &empty_event, BPF_NOEXIST);
	if (err) {
		if (err != -17 /* EEXIST: another thread of this process is exec'ing */)
			count_stat(EXECSNOOP_STAT_INFLIGHT_DROPS);
		return 0;
	}
	event = bpf_map_lookup_elem(&execs, &tgid);
	if (!event)
		return 0;

	task = (struct task_struct *)bpf_get_current_task();
	event->pid = tgid;
	event->uid = uid;
	event->ppid = BPF_CORE_READ(task, real_parent, tgid);
	event->flags = flags;

	ret = bpf_probe_read_user_str(event->args, EXECSNOOP_ARGSIZE, filename);
	if (ret <= 0) {
		event->args[0] = '\0';
		ret = 1;
	}
	size = ret;
	event->args_count = 1;
	event->args_size = size;

	for (i = 1; i < EXECSNOOP_TOTAL_MAX_ARGS && i < max_args; i++) {
		argp = NULL;
		if (bpf_probe_read_user(&argp, sizeof(argp), &argv[i]) || !argp)
			return 0;
		if (size > EXECSNOOP_LAST_ARG)
			return 0;
		ret = bpf_probe_read_user_str(&event->args[size], EXECSNOOP_ARGSIZE, argp);
		if (ret <= 0)
			return 0;
		size += ret;
		event->args_count++;
		event->args_size = size;
	}
	/* One more non-NULL pointer means the process had more arguments than we keep. */
	argp = NULL;
	if (!bpf_probe_read_user(&argp, sizeof(argp), &argv[i]) && argp)
		event->flags |= EXECSNOOP_FLAG_TRUNCATED;
	return 0;
}

static __always_inline int comm_matches(const char *comm)
{
	int start, j;

	if (!targ_name[0])
		return 1;
	for (start = 0; start < EXECSNOOP_TASK_COMM_LEN && comm[start]; start++) {
		for (j = 0; j < EXECSNOOP_TASK_COMM_LEN; j++) {
			if (!targ_name[j])
				return 1;
			if (start + j >= EXECSNOOP_TASK_COMM_LEN || comm[start + j] != targ_name[j])
				break;
		}
	}
	return 0;
}

static __always_inline int record_exit(long ret)
{
	struct execsnoop_event *event;
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 size;

	event = bpf_map_lookup_elem(&execs, &tgid);
	if (!event)
		return 0;
	if (failed_mode == EXECSNOOP_SUCCESS_ONLY && ret < 0)
		goto cleanup;
	if (failed_mode == EXECSNOOP_FAILED_ONLY && ret >= 0)
		goto cleanup;
	event->retval = ret;
	bpf_get_current_comm(event->comm, sizeof(event->comm));
	if (!comm_matches(event->comm))
		goto cleanup;
	event->ts_ns = bpf_ktime_get_ns();
	size = EXECSNOOP_HEADER_SIZE + event->args_size;
	if (size > sizeof(*event))
		size = sizeof(*event);
	if (bpf_ringbuf_output(&events, event, size, 0))
		count_stat(EXECSNOOP_STAT_RINGBUF_DROPS);
cleanup:
	bpf_map_delete_elem(&execs, &tgid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int execsnoop_enter_execve(struct syscall_enter_ctx *ctx)
{
	return record_enter((const char *)ctx->args[0], (const char *const *)ctx->args[1], 0);
}

SEC("tracepoint/syscalls/sys_exit_execve")
int execsnoop_exit_execve(struct syscall_exit_ctx *ctx)
{
	return record_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_execveat")
int execsnoop_enter_execveat(struct syscall_enter_ctx *ctx)
{
	return record_enter((const char *)ctx->args[1], (const char *const *)ctx->args[2],
			    EXECSNOOP_FLAG_EXECVEAT);
}

SEC("tracepoint/syscalls/sys_exit_execveat")
int execsnoop_exit_execveat(struct syscall_exit_ctx *ctx)
{
	return record_exit(ctx->ret);
}

char LICENSE[] SEC("license") = "GPL";
