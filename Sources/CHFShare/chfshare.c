#define _GNU_SOURCE
#include "chfshare.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/file.h>
#include <unistd.h>
#include <linux/openat2.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <signal.h>
#include <malloc.h>

const int HF_O_PATH = O_PATH;
const int HF_O_NOATIME = O_NOATIME;
const int HF_O_NOFOLLOW = O_NOFOLLOW;
const int HF_O_DIRECTORY = O_DIRECTORY;
const int HF_O_CLOEXEC = O_CLOEXEC;
const int HF_O_NONBLOCK = O_NONBLOCK;
const int HF_O_TMPFILE = O_TMPFILE;
const int HF_AT_EMPTY_PATH = AT_EMPTY_PATH;
const int HF_AT_SYMLINK_NOFOLLOW = AT_SYMLINK_NOFOLLOW;
const int HF_AT_REMOVEDIR = AT_REMOVEDIR;

int hf_statx(int dirfd, const char *name, int flags, struct hf_stat *out) {
    struct statx sx;
    unsigned mask = STATX_TYPE | STATX_MODE | STATX_UID | STATX_GID | STATX_NLINK | STATX_INO |
                    STATX_SIZE | STATX_MTIME | STATX_CTIME;
    if (statx(dirfd, name, flags | AT_STATX_SYNC_AS_STAT, mask, &sx) != 0) return -1;
    out->mode = sx.stx_mode;
    out->uid = sx.stx_uid;
    out->gid = sx.stx_gid;
    out->nlink = sx.stx_nlink;
    out->ino = sx.stx_ino;
    out->dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
    out->size = sx.stx_size;
    out->mtime_sec = sx.stx_mtime.tv_sec;
    out->mtime_nsec = sx.stx_mtime.tv_nsec;
    out->ctime_sec = sx.stx_ctime.tv_sec;
    out->ctime_nsec = sx.stx_ctime.tv_nsec;
#ifdef STATX_MNT_ID
    out->mnt_id = (sx.stx_mask & STATX_MNT_ID) ? sx.stx_mnt_id : 0;
#else
    out->mnt_id = 0;
#endif
    return 0;
}

long hf_getdents64(int fd, void *buf, size_t len) {
    return syscall(SYS_getdents64, fd, buf, len);
}

struct linux_dirent64_hf {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

int hf_dirent_next(const void *buf, long len, long *offset, const char **name, unsigned char *type, uint64_t *ino) {
    if (*offset >= len) return 0;
    const struct linux_dirent64_hf *d = (const struct linux_dirent64_hf *)((const char *)buf + *offset);
    *name = d->d_name;
    *type = d->d_type;
    *ino = d->d_ino;
    *offset += d->d_reclen;
    return 1;
}

int hf_openat_beneath(int dirfd, const char *path, int flags, unsigned mode) {
#ifdef SYS_openat2
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (uint64_t)flags;
    how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
#else
    errno = ENOSYS;
    return -1;
#endif
}

long hf_fstatfs_type(int fd) {
    struct statfs sf;
    if (fstatfs(fd, &sf) != 0) return -1;
    return (long)sf.f_type;
}

int hf_fchmod_path_fd(int fd, unsigned mode) {
    char p[64];
    snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
    return chmod(p, mode);
}

int hf_open(int dirfd, const char *name, int flags, unsigned mode) {
    return openat(dirfd, name, flags, mode);
}

long hf_copy_file_range(int in_fd, int out_fd, size_t len) {
    return (long)copy_file_range(in_fd, NULL, out_fd, NULL, len, 0);
}

int hf_set_mtime(int fd, int64_t sec, long nsec) {
    struct timespec ts[2];
    ts[0].tv_sec = 0;
    ts[0].tv_nsec = UTIME_OMIT;
    ts[1].tv_sec = sec;
    ts[1].tv_nsec = nsec;
    return futimens(fd, ts);
}

#ifndef __NR_getxattrat
#define __NR_getxattrat 464 /* same number on every architecture (unified syscall table) */
#endif
struct hf_xattr_args { uint64_t value; uint32_t size; uint32_t flags; };

long hf_getxattrat(int dirfd, const char *path, int at_flags, const char *name, void *buf, size_t size) {
    struct hf_xattr_args args = { (uint64_t)(uintptr_t)buf, (uint32_t)size, 0 };
    return syscall(__NR_getxattrat, dirfd, path, at_flags, name, &args, sizeof args);
}

int hf_fstatfs(int fd, struct hf_statfs *out) {
    struct statfs sf;
    if (fstatfs(fd, &sf) != 0) return -1;
    out->type = (long)sf.f_type;
    out->flags = (unsigned long)sf.f_flags;
    out->namelen = (long)sf.f_namelen;
    return 0;
}

/* Lock attempts by child processes: a separate process is what another huggingface_hub client is,
   and some filesystems (JuiceFS 0.x with an SQL engine) fail or succeed per lock owner, an id the
   kernel derives from the process's file table and open file. Every child of a batch stays alive
   (its descriptor open) until the batch ends, so no two of them can reuse each other's memory and
   so share an owner id. Only async-signal-safe calls run in the children. */
static int lock_once(int fd, int api, int exclusive) {
    if (api == 0) return flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB);
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = exclusive ? F_WRLCK : F_RDLCK;
    fl.l_whence = SEEK_SET;
    return fcntl(fd, api == 1 ? F_SETLK : F_OFD_SETLK, &fl);
}

static void unlock_once(int fd, int api) {
    if (api == 0) { flock(fd, LOCK_UN); return; }
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_UNLCK;
    fl.l_whence = SEEK_SET;
    fcntl(fd, api == 1 ? F_SETLK : F_OFD_SETLK, &fl);
}

int hf_lock_batch_run(int dirfd, const char *name, int api, int exclusive, int hold, int n, int *results,
                      struct hf_lock_batch *b) {
    int control[2];
    b->count = 0;
    b->control = -1;
    if (n > HF_LOCK_BATCH_MAX) n = HF_LOCK_BATCH_MAX;
    if (pipe2(control, O_CLOEXEC) != 0) return -1;
    b->control = control[1];
    for (int i = 0; i < n; i++) {
        int result[2];
        if (pipe2(result, O_CLOEXEC) != 0) break;
        pid_t pid = fork();
        if (pid < 0) { close(result[0]); close(result[1]); break; }
        if (pid == 0) {
            close(control[1]);
            close(result[0]);
            int r = 0;
            int fd = openat(dirfd, name, (exclusive || api != 0 ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0) r = errno;
            else if (lock_once(fd, api, exclusive) != 0) r = errno;
            else if (!hold) unlock_once(fd, api);
            (void)!write(result[1], &r, sizeof r);
            char c;
            while (read(control[0], &c, 1) < 0 && errno == EINTR) {}
            _exit(0);
        }
        close(result[1]);
        b->pids[b->count++] = pid;
        int r = -1;
        if (read(result[0], &r, sizeof r) != sizeof r) r = ECHILD;
        close(result[0]);
        results[i] = r;
        if (hold && r == 0) break;
    }
    close(control[0]);
    return b->count;
}

void hf_lock_batch_end(struct hf_lock_batch *b) {
    if (b->control >= 0) { close(b->control); b->control = -1; }
    for (int i = 0; i < b->count; i++) {
        int status;
        while (waitpid(b->pids[i], &status, 0) < 0 && errno == EINTR) {}
    }
    b->count = 0;
}

int hf_spawn_detached(const char *path, char *const argv[], char *const envp[], int in_fd, int out_fd, int err_fd, int *pid) {
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, all;
    int r;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
    posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    r = posix_spawn(pid, path, &fa, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return r;
}

int hf_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int hf_set_not_dumpable(void) { return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); }

int hf_limit_malloc_arenas(int arenas) { return mallopt(M_ARENA_MAX, arenas); }
