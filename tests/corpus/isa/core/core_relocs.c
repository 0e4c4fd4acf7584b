/* ISA corpus (CO-RE): one relocation of every kind (0..12), against local types only, so that
 * `pybpf disasm -r` can be compared with llvm-objdump -r. Not meant to load: nothing here exists
 * in a kernel. Kept out of tests/corpus/isa/*.c, which other areas run. */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

#define __pai __attribute__((preserve_access_index))

struct inner { int x; unsigned int flag: 3; int sflag: 5; } __pai;
struct outer {
    long head;
    struct inner arr[4];
    union { int as_int; char as_char; };
    struct { short lo, hi; } pair;
} __pai;
enum color { RED = 1, GREEN = 2, BLUE = -4 };
typedef struct outer outer_t;

volatile __u64 sink[16];

SEC("socket")
int core_kinds(struct outer *o)
{
    sink[0] = __builtin_preserve_field_info(o->arr[2].x, 0);          /* byte_off */
    sink[1] = __builtin_preserve_field_info(o->pair.hi, 1);           /* byte_sz */
    sink[2] = __builtin_preserve_field_info(o->as_char, 2);           /* field_exists */
    sink[3] = __builtin_preserve_field_info(o->arr[1].sflag, 3);      /* signed */
    sink[4] = __builtin_preserve_field_info(o->arr[0].flag, 4);       /* lshift_u64 */
    sink[5] = __builtin_preserve_field_info(o->arr[0].flag, 5);       /* rshift_u64 */
    sink[6] = __builtin_btf_type_id(*o, 0);                           /* local_type_id */
    sink[7] = __builtin_btf_type_id(*(outer_t *)0, 1);                /* target_type_id */
    sink[8] = __builtin_preserve_type_info(*(struct inner *)0, 0);    /* type_exists */
    sink[9] = __builtin_preserve_type_info(*(outer_t *)0, 1);         /* type_size */
    sink[10] = __builtin_preserve_enum_value(*(enum color *)GREEN, 0); /* enumval_exists */
    sink[11] = __builtin_preserve_enum_value(*(enum color *)BLUE, 1); /* enumval_value */
    sink[12] = __builtin_preserve_type_info(*(struct inner *)0, 2);   /* type_matches */
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
