/* core_calls.bpf.c: subprograms (global and static, in .text), bpf_loop and for_each_map_elem
 * callbacks, CO-RE inside a subprogram, several programs sharing code, typed maps, a prog array
 * and a map-in-map initialised from .maps, and global data in .rodata/.data/.bss. */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "core_kernel.h"

struct counter_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
};

struct counter_map counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 128);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct sched_entity);
	__uint(pinning, LIBBPF_PIN_NONE);
} seen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} ring SEC(".maps");

struct inner_array {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 3);
	__type(key, __u32);
	__array(values, struct inner_array);
} outer SEC(".maps") = {
	.values = { [0] = &inner_a, [2] = &inner_b },
};

int tail_target(void *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__uint(key_size, sizeof(__u32));
	__array(values, int (void *));
} jumps SEC(".maps") = {
	.values = { [1] = (void *)&tail_target },
};

const volatile __u32 loop_count = 4;
const volatile char greeting[8] = "hello";
__u64 total = 7;
__u64 last_pid;
__u32 loops_seen;
__u64 sums[4] SEC(".data.sums");

static __noinline __u64 read_pid(struct task_struct *task)
{
	return BPF_CORE_READ(task, pid);
}

__noinline __u64 add_scaled(__u64 a, __u64 b)
{
	return a + b * loop_count;
}

static int loop_step(__u32 index, void *ctx)
{
	loops_seen += index;
	sums[index & 3] += 1;
	return 0;
}

static __u64 sum_counter(struct bpf_map *map, __u32 *key, __u64 *value, void *ctx)
{
	total += *value;
	return 0;
}

SEC("tp/syscalls/sys_enter_getppid")
int count_calls(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 key = 0;
	__u64 *value = bpf_map_lookup_elem(&counters, &key);

	if (value)
		__sync_fetch_and_add(value, 1);
	last_pid = read_pid(task);
	total = add_scaled(total, last_pid);
	bpf_loop(loop_count, loop_step, NULL, 0);
	return 0;
}

SEC("raw_tp/sys_exit")
int walk_counters(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	bpf_for_each_map_elem(&counters, sum_counter, NULL, 0);
	total = add_scaled(read_pid(task), greeting[0]);
	bpf_tail_call(ctx, &jumps, 1);
	return 0;
}

SEC("raw_tp/sys_exit")
int tail_target(void *ctx)
{
	__u32 key = 0;
	void *inner = bpf_map_lookup_elem(&outer, &key);
	__u64 *slot = bpf_ringbuf_reserve(&ring, sizeof(__u64), 0);

	if (slot) {
		*slot = inner != NULL;
		bpf_ringbuf_submit(slot, 0);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
