/* ISA corpus: arena pointers (__arena, address space 1), which clang lowers to addr_space_cast. */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

#define __arena __attribute__((address_space(1)))

struct {
    __uint(type, 33);               /* BPF_MAP_TYPE_ARENA (newer than the installed uapi headers) */
    __uint(map_flags, 1U << 10);    /* BPF_F_MMAPABLE */
    __uint(max_entries, 1);
} arena SEC(".maps");

int __arena *counter;
int __arena * __arena *indirect;

SEC("syscall")
int arena_update(void *ctx)
{
    int __arena *p = counter;
    if (p)
        *p = 1;
    if (indirect && *indirect)
        **indirect += 2;
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
