/* The emulated runtime's launcher: runs a kernel's blocks one after another on the calling
   OS thread, each block's threads as fibers.

   A thread runs until it finishes or parks at a barrier (__syncthreads, or a warp intrinsic:
   __syncwarp, __shfl_*_sync, __ballot_sync). A thread that never parks runs start to finish
   on a reused stack, so a kernel without barriers costs a plain loop over its threads plus two
   stack switches each. A barrier opens when every thread it waits for has arrived; a barrier
   that can never open (a thread exited, threads wait at different __syncthreads, lanes use
   different masks) is reported as an error naming the kernel and the block, never a hang.
   With `reverse` set, threads start and resume in reverse order, so a kernel that reads
   another thread's shared-memory write without a barrier between gives a wrong result. */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

#include "shim.h"

#if defined(__x86_64__) && !defined(PG_EMU_UCONTEXT)
#define PG_EMU_CUSTOM_SWITCH 1
#else
#include <ucontext.h>
#endif

/* ------------------------------------------------------------------ context switch ---- */
#ifdef PG_EMU_CUSTOM_SWITCH
/* Saves the callee-saved registers, MXCSR and the x87 control word on the current stack,
   stores the stack pointer in *from and continues on the stack `to` (System V x86-64). */
extern "C" void pg_emu_switch(void **from, void *to);
asm(R"(
    .text
    .p2align 4
    .hidden pg_emu_switch
    .globl pg_emu_switch
    .type pg_emu_switch, @function
pg_emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size pg_emu_switch, .-pg_emu_switch
)");
#endif


extern "C" void pg_emu_fiber_entry();

namespace pg_emu {

ThreadState *current = nullptr;
uint3 block_idx;
dim3 block_dim, grid_dim;
unsigned char *dynamic_shared = nullptr;

namespace {

const size_t STACK_BYTES = 256 * 1024; /* reserved, touched on demand */
const int MAX_THREADS = 1024;
const size_t MAX_DYNAMIC_SHARED = 48 * 1024;

struct Stack {
    char *base; /* lowest usable byte; a guard page lies below */
    size_t size;
};

enum State { UNSTARTED, RUNNING, BLOCK_WAIT, WARP_WAIT, DONE, ABORTED };

struct Fiber {
    ThreadState ts;
    State state;
    Stack stack;
    const char *site; /* the __syncthreads it waits at */
    unsigned mask;    /* the warp mask it waits with */
#ifdef PG_EMU_CUSTOM_SWITCH
    void *sp;
#else
    ucontext_t context;
#endif
};

struct Warp {
    unsigned exist;   /* lanes that exist (a block's last warp may be partial) */
    unsigned exited;  /* lanes that finished */
    unsigned arrived; /* lanes parked at the current warp barrier */
    unsigned mask;    /* the mask they passed */
    std::vector<int> waiting;
    uint64_t slot[32];
};

struct Kernel {
    std::string name;
    void (*fn)();
    Invoker invoke;
    bool synchronizes;
};

std::vector<Kernel> &registry() {
    static std::vector<Kernel> kernels;
    return kernels;
}

std::vector<Stack> free_stacks;
std::vector<Fiber> fibers;
std::vector<Warp> warps;
std::vector<int> ready, barrier_waiting;
size_t ready_head;
const char *barrier_site;
int exited_threads;
bool reverse_order;
std::string error;
const Kernel *running_kernel;
void **running_args;
Fiber *running_fiber;
/* A kernel registered without synchronisation runs its threads as plain calls; a sync call or
   a failure in one jumps back to the launcher. */
bool plain_mode;
ThreadState plain_thread;
jmp_buf plain_escape;
#ifdef PG_EMU_CUSTOM_SWITCH
void *scheduler_sp;
#else
ucontext_t scheduler_context;
#endif
std::mutex launch_lock;

bool get_stack(Stack *out) {
    if (!free_stacks.empty()) {
        *out = free_stacks.back();
        free_stacks.pop_back();
        return true;
    }
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *p = (char *)mmap(nullptr, STACK_BYTES + page, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return false;
    mprotect(p, page, PROT_NONE); /* overflowing a fiber stack faults here */
    out->base = p + page;
    out->size = STACK_BYTES;
    return true;
}

void put_stack(const Stack &s) { free_stacks.push_back(s); }

void to_scheduler(Fiber *f) {
#ifdef PG_EMU_CUSTOM_SWITCH
    pg_emu_switch(&f->sp, scheduler_sp);
#else
    swapcontext(&f->context, &scheduler_context);
#endif
}

void start_context(Fiber *f) {
#ifdef PG_EMU_CUSTOM_SWITCH
    uint64_t *sp = (uint64_t *)(((uintptr_t)(f->stack.base + f->stack.size)) & ~(uintptr_t)15);
    uint32_t mxcsr;
    uint16_t fpucw;
    asm volatile("stmxcsr %0" : "=m"(mxcsr));
    asm volatile("fnstcw %0" : "=m"(fpucw));
    *--sp = 0;                                     /* the entry function's return slot */
    *--sp = (uint64_t)(uintptr_t)&pg_emu_fiber_entry; /* where pg_emu_switch returns */
    for (int i = 0; i < 6; i++) *--sp = 0;         /* rbp rbx r12 r13 r14 r15 */
    *--sp = (uint64_t)mxcsr | ((uint64_t)fpucw << 32);
    f->sp = sp;
#else
    getcontext(&f->context);
    f->context.uc_stack.ss_sp = f->stack.base;
    f->context.uc_stack.ss_size = f->stack.size;
    f->context.uc_link = nullptr;
    makecontext(&f->context, (void (*)())pg_emu_fiber_entry, 0);
#endif
}

void resume(Fiber *f) {
    running_fiber = f;
    current = &f->ts;
#ifdef PG_EMU_CUSTOM_SWITCH
    pg_emu_switch(&scheduler_sp, f->sp);
#else
    swapcontext(&scheduler_context, &f->context);
#endif
}

void set_error(const std::string &message) {
    if (error.empty()) error = message;
}

std::string thread_name(const ThreadState &t) {
    char buf[64];
    snprintf(buf, sizeof buf, "thread (%u,%u,%u)", t.thread_idx.x, t.thread_idx.y,
             t.thread_idx.z);
    return buf;
}
std::string thread_name(const Fiber &f) { return thread_name(f.ts); }

/* Make the threads in `which` runnable, lowest index first (highest with reverse_order). */
void release(std::vector<int> &which) {
    std::sort(which.begin(), which.end());
    if (reverse_order) std::reverse(which.begin(), which.end());
    for (int i : which) ready.push_back(i);
    which.clear();
}

void on_block_arrival(int i) {
    Fiber &f = fibers[i];
    if (barrier_waiting.empty()) {
        barrier_site = f.site;
    } else if (strcmp(barrier_site, f.site) != 0) {
        set_error("divergent __syncthreads: threads wait at " + std::string(barrier_site) +
                  " and at " + std::string(f.site));
        return;
    }
    barrier_waiting.push_back(i);
    if (exited_threads > 0) {
        set_error("__syncthreads at " + std::string(f.site) + " can never open: " +
                  std::to_string(exited_threads) + " of " + std::to_string(fibers.size()) +
                  " threads exited without reaching it");
        return;
    }
    if (barrier_waiting.size() == fibers.size()) release(barrier_waiting);
}

void on_warp_arrival(int i) {
    Fiber &f = fibers[i];
    Warp &w = warps[i / 32];
    unsigned bit = 1u << (i & 31);
    if (!(f.mask & bit)) {
        set_error(thread_name(f) + " calls a warp intrinsic with a mask that excludes its lane");
        return;
    }
    if (w.waiting.empty()) {
        w.mask = f.mask;
    } else if (w.mask != f.mask) {
        set_error("lanes of warp " + std::to_string(i / 32) +
                  " wait in warp intrinsics with different masks");
        return;
    }
    unsigned required = f.mask & w.exist;
    if (required & w.exited) {
        set_error("warp intrinsic in " + thread_name(f) +
                  " waits for lanes that already exited (divergent __syncwarp/__shfl_sync)");
        return;
    }
    w.arrived |= bit;
    w.waiting.push_back(i);
    if ((w.arrived & required) == required) {
        w.arrived = 0;
        release(w.waiting);
    }
}

void on_exit(int i) {
    exited_threads++;
    if (!barrier_waiting.empty()) {
        set_error(thread_name(fibers[i]) + " exited while other threads wait at __syncthreads " +
                  std::string(barrier_site) + " (divergent barrier)");
        return;
    }
    Warp &w = warps[i / 32];
    unsigned bit = 1u << (i & 31);
    w.exited |= bit;
    if (!w.waiting.empty() && (w.mask & bit)) {
        set_error(thread_name(fibers[i]) +
                  " exited while lanes of its warp wait for it in a warp intrinsic");
    }
}

std::string describe_deadlock() {
    int in_block = 0, in_warp = 0;
    for (const Fiber &f : fibers) {
        in_block += f.state == BLOCK_WAIT;
        in_warp += f.state == WARP_WAIT;
    }
    return "threads can never proceed: " + std::to_string(in_block) + " wait at __syncthreads, " +
           std::to_string(in_warp) + " in warp intrinsics, " + std::to_string(exited_threads) +
           " exited (divergent barrier)";
}

void set_thread_index(ThreadState &t, int i) {
    t.linear = i;
    t.thread_idx.x = i % block_dim.x;
    t.thread_idx.y = (i / block_dim.x) % block_dim.y;
    t.thread_idx.z = i / (block_dim.x * block_dim.y);
}

bool run_block(int nthreads) {
    if ((int)fibers.size() != nthreads) fibers.resize(nthreads);
    warps.resize((nthreads + 31) / 32);
    for (int i = 0; i < nthreads; i++) {
        Fiber &f = fibers[i];
        f.stack.base = nullptr;
        set_thread_index(f.ts, i);
        f.state = UNSTARTED;
    }
    for (size_t w = 0; w < warps.size(); w++) {
        int lanes = std::min(32, nthreads - (int)w * 32);
        Warp &wp = warps[w];
        wp.exist = lanes == 32 ? 0xffffffffu : ((1u << lanes) - 1);
        wp.exited = wp.arrived = wp.mask = 0;
        wp.waiting.clear();
    }
    ready.clear();
    ready_head = 0;
    barrier_waiting.clear();
    exited_threads = 0;
    std::vector<int> all(nthreads);
    for (int i = 0; i < nthreads; i++) all[i] = i;
    release(all);
    while (ready_head < ready.size() && error.empty()) {
        int i = ready[ready_head++];
        Fiber &f = fibers[i];
        if (f.state == UNSTARTED) {
            if (!get_stack(&f.stack)) {
                set_error("out of memory for fiber stacks");
                break;
            }
            start_context(&f);
        }
        f.state = RUNNING;
        resume(&f);
        if (f.state == DONE) {
            put_stack(f.stack);
            f.stack.base = nullptr;
            on_exit(i);
        } else if (f.state == BLOCK_WAIT) {
            on_block_arrival(i);
        } else if (f.state == WARP_WAIT) {
            on_warp_arrival(i);
        }
        if (ready_head > 4096 && ready_head * 2 > ready.size()) {
            ready.erase(ready.begin(), ready.begin() + ready_head);
            ready_head = 0;
        }
    }
    if (error.empty() && exited_threads != nthreads) set_error(describe_deadlock());
    for (Fiber &f : fibers) /* parked or aborted fibers' stacks hold nothing to unwind */
        if (f.stack.base != nullptr && f.state != DONE) put_stack(f.stack);
    return error.empty();
}

bool run_block_plain(int nthreads) {
    current = &plain_thread;
    if (setjmp(plain_escape) != 0) return false;
    for (int k = 0; k < nthreads; k++) {
        set_thread_index(plain_thread, reverse_order ? nthreads - 1 - k : k);
        running_kernel->invoke(running_kernel->fn, running_args);
    }
    return true;
}

[[noreturn]] void fail_plain(const std::string &message) {
    set_error(message + " in " + thread_name(plain_thread));
    longjmp(plain_escape, 1);
}

void refuse_sync_in_plain_kernel(const char *what) {
    if (plain_mode)
        fail_plain(std::string(what) + " called by a kernel registered with "
                   "PG_REGISTER_KERNEL_NO_SYNC (register it with PG_REGISTER_KERNEL)");
}

void park(State state) {
    Fiber *f = running_fiber;
    f->state = state;
    to_scheduler(f);
}

Warp &current_warp() { return warps[current->linear / 32]; }

}  // namespace

/* ---------------------------------------------------------------- kernel-side API ---- */
void syncthreads(const char *site) {
    refuse_sync_in_plain_kernel("__syncthreads");
    running_fiber->site = site;
    park(BLOCK_WAIT);
}

void syncwarp(unsigned mask) {
    refuse_sync_in_plain_kernel("a warp intrinsic");
    running_fiber->mask = mask;
    park(WARP_WAIT);
}

uint64_t exchange(unsigned mask, uint64_t value, int src) {
    refuse_sync_in_plain_kernel("a warp shuffle");
    Warp &w = current_warp();
    int lane = current->linear & 31;
    w.slot[lane] = value;
    syncwarp(mask);
    uint64_t result = (src >= 0 && src < 32 && (w.exist >> src & 1)) ? w.slot[src] : value;
    syncwarp(mask); /* nobody overwrites a slot before every lane has read */
    return result;
}

unsigned ballot(unsigned mask, int predicate) {
    refuse_sync_in_plain_kernel("a warp vote");
    Warp &w = current_warp();
    int lane = current->linear & 31;
    w.slot[lane] = predicate != 0;
    syncwarp(mask);
    unsigned bits = 0;
    for (int l = 0; l < 32; l++)
        if ((mask & w.exist) >> l & 1 && w.slot[l]) bits |= 1u << l;
    syncwarp(mask);
    return bits;
}

void fail(const char *message) {
    if (plain_mode) fail_plain(message);
    set_error(std::string(message) + " in " + thread_name(*running_fiber));
    park(ABORTED);
    __builtin_unreachable();
}

void register_kernel(const char *name, void (*fn)(), Invoker invoke, bool synchronizes) {
    registry().push_back(Kernel{name, fn, invoke, synchronizes});
}

}  // namespace pg_emu

/* A fiber starts here, on its own stack, and never returns: it switches back for good. */
extern "C" void pg_emu_fiber_entry() {
    pg_emu::Fiber *f = pg_emu::running_fiber;
    pg_emu::running_kernel->invoke(pg_emu::running_kernel->fn, pg_emu::running_args);
    f->state = pg_emu::DONE;
    pg_emu::to_scheduler(f);
    __builtin_unreachable();
}

/* ----------------------------------------------------------------- the C interface ---- */
using namespace pg_emu;

extern "C" {

int pg_emu_kernel_count(void) { return (int)registry().size(); }

const char *pg_emu_kernel_name(int i) {
    return i >= 0 && i < (int)registry().size() ? registry()[i].name.c_str() : nullptr;
}

void *pg_emu_malloc(size_t nbytes) {
    void *p = nullptr;
    if (posix_memalign(&p, 256, nbytes ? nbytes : 1) != 0) return nullptr;
    return p;
}

void pg_emu_free(void *p) { free(p); }

/* Run kernel `index` over the grid; `args` is cuLaunchKernel's kernelParams. Returns 0, or -1
   with a message in `message`. */
int pg_emu_launch(int index, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                  unsigned bz, size_t shared_bytes, void **args, int reverse, char *message,
                  size_t message_size) {
    std::lock_guard<std::mutex> guard(launch_lock);
    error.clear();
    if (index < 0 || index >= (int)registry().size()) {
        snprintf(message, message_size, "no kernel number %d in this module", index);
        return -1;
    }
    unsigned long long nthreads = (unsigned long long)bx * by * bz;
    if (nthreads == 0 || nthreads > (unsigned long long)MAX_THREADS || gx == 0 || gy == 0 ||
        gz == 0 || gy > 65535 || gz > 65535) {
        snprintf(message, message_size, "invalid launch geometry (at most %d threads a block, "
                 "grid y and z at most 65535)", MAX_THREADS);
        return -1;
    }
    if (shared_bytes > MAX_DYNAMIC_SHARED) {
        snprintf(message, message_size, "%zu bytes of dynamic shared memory, at most %zu",
                 shared_bytes, MAX_DYNAMIC_SHARED);
        return -1;
    }
    std::vector<unsigned char> shared(shared_bytes + 16, 0xCD); /* uninitialised-looking */
    dynamic_shared = (unsigned char *)(((uintptr_t)shared.data() + 15) & ~(uintptr_t)15);
    running_kernel = &registry()[index];
    running_args = args;
    reverse_order = reverse != 0;
    block_dim = dim3{bx, by, bz};
    grid_dim = dim3{gx, gy, gz};
    plain_mode = !running_kernel->synchronizes;
    bool ok = true;
    for (unsigned z = 0; z < gz && ok; z++)
        for (unsigned y = 0; y < gy && ok; y++)
            for (unsigned x = 0; x < gx && ok; x++) {
                block_idx = uint3{x, y, z};
                ok = plain_mode ? run_block_plain((int)nthreads) : run_block((int)nthreads);
            }
    plain_mode = false;
    dynamic_shared = nullptr;
    current = nullptr;
    if (!ok) {
        snprintf(message, message_size, "block (%u,%u,%u): %s", block_idx.x, block_idx.y,
                 block_idx.z, error.c_str());
        return -1;
    }
    return 0;
}

}  /* extern "C" */
