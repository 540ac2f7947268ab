function __hfshare_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __hfshare_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __hfshare_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __hfshare_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __hfshare_parse_tokens -S
    set -l unparsed_tokens (__hfshare_tokens -pc)
    switch $unparsed_tokens[1]
    case 'hfshare'
        __hfshare_parse_subcommand 0 'version' 'h/help'
        switch $unparsed_tokens[1]
        case 'init'
            __hfshare_parse_subcommand 1 'group=' 'create-group' 'gid=' 'other=' 'readers=+' 'root-is-member' 'no-profile' 'print-env' 'enable-timer' 'force' 'dry-run' 'q/quiet' 'version' 'h/help'
        case 'audit'
            __hfshare_parse_subcommand -r 1 'group=' 'stale-age=' 'force' 'root-is-member' 'exclude=+' 'threads=' 'format=' 'all' 'q/quiet' 'textfile=' 'fix' 'dry-run' 'version' 'h/help'
        case 'repair'
            __hfshare_parse_subcommand -r 1 'group=' 'stale-age=' 'force' 'root-is-member' 'exclude=+' 'threads=' 'format=' 'all' 'q/quiet' 'dry-run' 'version' 'h/help'
        case 'verify'
            __hfshare_parse_subcommand -r 1 'full' 'fix' 'json' 'threads=' 'q/quiet' 'version' 'h/help'
        case 'namei'
            __hfshare_parse_subcommand -r 1 'user=+' 'group=+' 'want=' 'json' 'l/long' 'm/modes' 'o/owners' 'n/nosymlinks' 'v/vertical' 'x/mountpoints' 'version' 'h/help'
        case 'user'
            __hfshare_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'add'
                __hfshare_parse_subcommand -r 1 'group=' 'version' 'h/help'
            case 'remove'
                __hfshare_parse_subcommand -r 1 'group=' 'version' 'h/help'
            case 'list'
                __hfshare_parse_subcommand -r 1 'group=' 'json' 'version' 'h/help'
            end
        case 'doctor'
            __hfshare_parse_subcommand 1 'user=' 'pid=' 'group=' 'format=' 'timeout=' 'version' 'h/help'
        case 'migrate'
            __hfshare_parse_subcommand 2 'group=' 'dry-run' 'remove-source' 'q/quiet' 'json' 'version' 'h/help'
        case 'probe'
            __hfshare_parse_subcommand 1 'peer=' 'gid=' 'json' 'version' 'h/help'
        case 'env'
            __hfshare_parse_subcommand 1 'format=' 'install-unit=' 'dry-run' 'reader=' 'version' 'h/help'
        case 'du'
            __hfshare_parse_subcommand 1 'by=' 'format=' 'json' 'unused-for=' 'textfile=' 'threads=' 'version' 'h/help'
        case 'prune'
            __hfshare_parse_subcommand 1 'unused-for=' 'max-size=' 'keep-free=' 'detached' 'repo=+' 'min-age=' 'dry-run' 'json' 'q/quiet' 'version' 'h/help'
        case 'pin'
            __hfshare_parse_subcommand -r 1 'root=' 'list' 'json' 'version' 'h/help'
        case 'unpin'
            __hfshare_parse_subcommand -r 1 'root=' 'version' 'h/help'
        case 'readers'
            __hfshare_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'add'
                __hfshare_parse_subcommand -r 1 'root=' 'dry-run' 'no-repair' 'version' 'h/help'
            case 'remove'
                __hfshare_parse_subcommand -r 1 'root=' 'dry-run' 'no-repair' 'version' 'h/help'
            case 'list'
                __hfshare_parse_subcommand 0 'root=' 'version' 'h/help'
            end
        case 'restrict'
            __hfshare_parse_subcommand -r 1 'group=' 'list' 'json' 'root=' 'dry-run' 'no-repair' 'version' 'h/help'
        case 'unrestrict'
            __hfshare_parse_subcommand -r 1 'root=' 'dry-run' 'no-repair' 'version' 'h/help'
        case 'help'
            __hfshare_parse_subcommand -r 1 'version'
        end
    end
end

function __hfshare_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __hfshare_parse_subcommand -S -a positional_count
    argparse -s r -- $argv
    set -l option_specs $argv[2..]
    set -l is_repeating_positional $_flag_r
    set -el _flag_r
    set -a commands $unparsed_tokens[1]
    set positional_index 0
    while true
        set -e unparsed_tokens[1]
        argparse -sn "$commands" $option_specs -- $unparsed_tokens 2> /dev/null
        set unparsed_tokens $argv
        set positional_index (math $positional_index + 1)
        for non_repeating_flag_or_option in $non_repeating_flags_or_options
            if set -ql "_flag_$(string replace -a - _ -- $non_repeating_flag_or_option)"
                set non_repeating_flags_or_options_absent 1
                break
            end
        end
        test (count $unparsed_tokens) -eq 0 -o \( -z "$is_repeating_positional" -a "$positional_index" -gt "$positional_count" \) && break
    end
end

function __hfshare_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __hfshare_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__hfshare_tokens -p)
    if test -z "$(__hfshare_tokens -t)"
        set -l index (count (__hfshare_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'hfshare' -f
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare" version' -l 'version' -d 'Show the version.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare" -eq 1' -fa 'init' -d 'Create or adopt a shared cache ROOT for a group.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare" -eq 1' -fa 'audit' -d 'Check shared cache roots against the policy (read-only).'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare" -eq 1' -fa 'repair' -d 'Restore the policy on shared cache roots, safely, as root.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare" -eq 1' -fa 'verify' -d 'Check every blob\'s bytes against its name and say which repo@revision loads offline.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare" -eq 1' -fa 'namei' -d 'Show which component of a path stops a user, and how to fix it.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare" -eq 1' -fa 'user' -d 'Add users to a shared cache\'s group, remove them, list members.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare" -eq 1' -fa 'doctor' -d 'Check that a user can really use the shared cache, and say how to fix what is wrong.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare" -eq 1' -fa 'migrate' -d 'Move a private hub cache into the shared one (root only).'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare" -eq 1' -fa 'probe' -d 'Find out what the filesystem under a cache really does, by trying.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare" -eq 1' -fa 'env' -d 'Print what a member process needs to use the shared cache, for where it runs.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare" -eq 1' -fa 'du' -d 'Show what a cache holds: per repo, per revision, per user, and the free space (read-only).'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare" -eq 1' -fa 'prune' -d 'Free disk space: remove whole revisions nobody uses, least recently used first (root only).'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare" -eq 1' -fa 'pin' -d 'Keep a repo or one revision from ever being pruned (root only to change).'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare" -eq 1' -fa 'unpin' -d 'Remove pins (root only).'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare" -eq 1' -fa 'readers' -d 'Groups that may use the cache read-only: add, remove, list.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare" -eq 1' -fa 'restrict' -d 'Make repos readable only by a licensed group (gated models), or list the rules.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare" -eq 1' -fa 'unrestrict' -d 'Lift restrict rules (root only): the repos become shared again.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare" -eq 1' -fa 'help' -d 'Show subcommand help information.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare init" -eq 1' -fa '(__hfshare_complete_directories)'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare init" group' -l 'group' -d 'The Unix group whose members share the cache.' -rfka '(__hfshare_custom_completion ---completion init -- --group (count (__hfshare_tokens -pc)) (__hfshare_tokens -tC))'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare init" create-group' -l 'create-group' -d 'Create the group if it does not exist.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare init" gid' -l 'gid' -d 'GID for --create-group.' -rfka ''
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare init" other' -l 'other' -d 'What non-members get: rx (read the cache) or none.' -rfka ''
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare init"' -l 'readers' -d 'A group that may use the cache read-only (repeatable): directories r-x, files r--, through access and default ACLs; its members\' profile sets HF_HUB_OFFLINE=1 and keeps what the client writes in their home. Added to the recorded readers (\'hfshare readers\' lists, adds and removes them).' -rfka '(__hfshare_custom_completion ---completion init -- --readers (count (__hfshare_tokens -pc)) (__hfshare_tokens -tC))'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare init" root-is-member' -l 'root-is-member' -d 'Count uid 0 as a member (root-owned files are then not owner-not-member findings).'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare init" no-profile' -l 'no-profile' -d 'Do not write /etc/profile.d/hfshare.sh.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare init" print-env' -l 'print-env' -d 'Print the environment snippet (for other shells or environment modules).'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare init" enable-timer' -l 'enable-timer' -d 'Run \'hfshare repair\' nightly: systemd timer where systemd runs, else /etc/cron.d/hfshare.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare init" force' -l 'force' -d 'Accept a ROOT inside a user\'s home, a system group (gid < 100), or a group other than the one ROOT is registered for.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare init" dry-run' -l 'dry-run' -d 'Print the plan and change nothing.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare init" q quiet' -l 'quiet' -s 'q' -d 'Print only problems.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare init" version' -l 'version' -d 'Show the version.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare init" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare audit" -ge 1' -fa '(__hfshare_complete_directories)'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare audit" group' -l 'group' -d 'The shared group, for a ROOT that \'hfshare init\' did not make (a bare hub cache).' -rfka '(__hfshare_custom_completion ---completion audit -- --group (count (__hfshare_tokens -pc)) (__hfshare_tokens -tC))'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare audit" stale-age' -l 'stale-age' -d 'Age after which an unheld lock or an *.incomplete file is stale: 36h, 2d, 90m, 3600s.' -rfka ''
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare audit" force' -l 'force' -d 'Accept a ROOT inside a user\'s home, a system group (gid < 100), or a --group other than the one init recorded.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare audit" root-is-member' -l 'root-is-member' -d 'Count uid 0 as a member of the group.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare audit"' -l 'exclude' -d 'Skip entries whose path relative to ROOT, or name, matches this glob (repeatable).' -rfka ''
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare audit" threads' -l 'threads' -d 'Directories walked at once. Default: what \'hfshare probe\' measured for ROOT\'s filesystem (ROOT/.hfshare/probe.json: 8 on a local disk, or one per CPU if more; more where each call is a round trip), else as on a local disk.' -rfka ''
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare audit" format' -l 'format' -d 'Output format: text, jsonl (one JSON object per finding on stdout) or prometheus.' -rfka 'text jsonl prometheus'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare audit" all' -l 'all' -d 'List every path (text format), not only the first 10 of each kind.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare audit" q quiet' -l 'quiet' -s 'q' -d 'No output at all when healthy (for cron).'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare audit" textfile' -l 'textfile' -d 'Write Prometheus metrics to this file (atomically, for node_exporter\'s textfile collector).' -rF
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare audit" fix' -l 'fix' -d 'Repair what is fixable (the same as \'hfshare repair\').'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare audit" dry-run' -l 'dry-run' -d 'With --fix: print what would change and change nothing.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare audit" version' -l 'version' -d 'Show the version.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare audit" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare repair" -ge 1' -fa '(__hfshare_complete_directories)'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare repair" group' -l 'group' -d 'The shared group, for a ROOT that \'hfshare init\' did not make (a bare hub cache).' -rfka '(__hfshare_custom_completion ---completion repair -- --group (count (__hfshare_tokens -pc)) (__hfshare_tokens -tC))'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare repair" stale-age' -l 'stale-age' -d 'Age after which an unheld lock or an *.incomplete file is stale: 36h, 2d, 90m, 3600s.' -rfka ''
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare repair" force' -l 'force' -d 'Accept a ROOT inside a user\'s home, a system group (gid < 100), or a --group other than the one init recorded.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare repair" root-is-member' -l 'root-is-member' -d 'Count uid 0 as a member of the group.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare repair"' -l 'exclude' -d 'Skip entries whose path relative to ROOT, or name, matches this glob (repeatable).' -rfka ''
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare repair" threads' -l 'threads' -d 'Directories walked at once. Default: what \'hfshare probe\' measured for ROOT\'s filesystem (ROOT/.hfshare/probe.json: 8 on a local disk, or one per CPU if more; more where each call is a round trip), else as on a local disk.' -rfka ''
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare repair" format' -l 'format' -d 'Output format: text, jsonl (one JSON object per finding on stdout) or prometheus.' -rfka 'text jsonl prometheus'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare repair" all' -l 'all' -d 'List every path (text format), not only the first 10 of each kind.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare repair" q quiet' -l 'quiet' -s 'q' -d 'No output at all when healthy (for cron).'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare repair" dry-run' -l 'dry-run' -d 'Print what would change and change nothing.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare repair" version' -l 'version' -d 'Show the version.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare repair" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare verify" -ge 1' -fa '(__hfshare_complete_directories)'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare verify" full' -l 'full' -d 'Hash every blob again, ignoring what earlier runs verified.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare verify" fix' -l 'fix' -d 'Move blobs whose bytes do not match their name to ROOT/.hfshare/quarantine/ (root only).'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare verify" json' -l 'json' -d 'Print the result as one JSON object.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare verify" threads' -l 'threads' -d 'Files hashed at once. Default: one per CPU.' -rfka ''
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare verify" q quiet' -l 'quiet' -s 'q' -d 'Print only revisions that are not ok.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare verify" version' -l 'version' -d 'Show the version.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare verify" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare namei" -ge 1' -F
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare namei"' -l 'user' -d 'Judge this user\'s access (repeatable). Default: the user running hfshare.' -rfka '(__hfshare_custom_completion ---completion namei -- --user (count (__hfshare_tokens -pc)) (__hfshare_tokens -tC))'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare namei"' -l 'group' -d 'Judge every member of this group (primary or listed), and name it in fixes (repeatable).' -rfka '(__hfshare_custom_completion ---completion namei -- --group (count (__hfshare_tokens -pc)) (__hfshare_tokens -tC))'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare namei" want' -l 'want' -d 'What the users need on the final path besides reaching it: read, write, execute, or letters such as rw.' -rfka ''
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare namei" json' -l 'json' -d 'One JSON document on stdout instead of the table.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare namei" l long' -l 'long' -s 'l' -d 'util-linux namei output: long listing (-m -o -v).'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare namei" m modes' -l 'modes' -s 'm' -d 'util-linux namei output: show the mode bits of each file.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare namei" o owners' -l 'owners' -s 'o' -d 'util-linux namei output: show owner and group name of each file.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare namei" n nolinks nosymlinks' -s 'n' -l 'nosymlinks' -l 'nolinks' -d 'util-linux namei output: do not follow symlinks.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare namei" v vertical' -l 'vertical' -s 'v' -d 'util-linux namei output: vertical align of modes and owners.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare namei" mountpoints x' -s 'x' -l 'mountpoints' -d 'util-linux namei output: show mount point directories with a \'D\'.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare namei" version' -l 'version' -d 'Show the version.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare namei" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare user" version' -l 'version' -d 'Show the version.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare user" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare user" -eq 1' -fa 'add' -d 'Add users to the shared group (root only).'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare user" -eq 1' -fa 'remove' -d 'Remove users from the shared group (root only).'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare user" -eq 1' -fa 'list' -d 'List the group\'s members with their last activity and data in the cache.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare user add" -ge 1' -fka '(__hfshare_custom_completion ---completion user add -- positional@0 (count (__hfshare_tokens -pc)) (__hfshare_tokens -tC))'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare user add" group' -l 'group' -d 'The shared group, for a ROOT that \'hfshare init\' did not make.' -rfka '(__hfshare_custom_completion ---completion user add -- --group (count (__hfshare_tokens -pc)) (__hfshare_tokens -tC))'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare user add" version' -l 'version' -d 'Show the version.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare user add" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare user remove" -ge 1' -fka '(__hfshare_custom_completion ---completion user remove -- positional@0 (count (__hfshare_tokens -pc)) (__hfshare_tokens -tC))'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare user remove" group' -l 'group' -d 'The shared group, for a ROOT that \'hfshare init\' did not make.' -rfka '(__hfshare_custom_completion ---completion user remove -- --group (count (__hfshare_tokens -pc)) (__hfshare_tokens -tC))'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare user remove" version' -l 'version' -d 'Show the version.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare user remove" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare user list" -ge 1' -fka '(__hfshare_custom_completion ---completion user list -- positional@0 (count (__hfshare_tokens -pc)) (__hfshare_tokens -tC))'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare user list" group' -l 'group' -d 'The shared group, for a ROOT that \'hfshare init\' did not make.' -rfka '(__hfshare_custom_completion ---completion user list -- --group (count (__hfshare_tokens -pc)) (__hfshare_tokens -tC))'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare user list" json' -l 'json' -d 'Print one JSON object: root, group, members and other owners, each with uid, entries, files, bytes and last activity (epoch seconds).'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare user list" version' -l 'version' -d 'Show the version.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare user list" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare doctor" -eq 1' -fa '(__hfshare_complete_directories)'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare doctor" user' -l 'user' -d 'Check this user instead of yourself (root only).' -rfka '(__hfshare_custom_completion ---completion doctor -- --user (count (__hfshare_tokens -pc)) (__hfshare_tokens -tC))'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare doctor" pid' -l 'pid' -d 'Check a running process instead (a service that fails): from /proc/PID its environment, ids, groups and umask; whether huggingface_hub would use the shared cache (HF_HUB_CACHE, HF_HOME, XDG_CACHE_HOME, HOME resolved as the client does) and whether it can write there; the fix names its systemd unit (hfshare env --install-unit UNIT). Another user\'s process needs root.' -rfka ''
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare doctor" group' -l 'group' -d 'The shared group, for a ROOT that \'hfshare init\' did not make.' -rfka '(__hfshare_custom_completion ---completion doctor -- --group (count (__hfshare_tokens -pc)) (__hfshare_tokens -tC))'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare doctor" format' -l 'format' -d 'Output format: text, or jsonl (one JSON object per check).' -rfka 'text jsonl'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare doctor" timeout' -l 'timeout' -d 'With --user: seconds the user\'s login shell, and then the checks run as the user, may take before they are killed.' -rfka ''
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare doctor" version' -l 'version' -d 'Show the version.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare doctor" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare migrate" -eq 1' -fa '(__hfshare_complete_directories)'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare migrate" -eq 2' -fa '(__hfshare_complete_directories)'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare migrate" group' -l 'group' -d 'The shared group, for a ROOT that \'hfshare init\' did not make.' -rfka '(__hfshare_custom_completion ---completion migrate -- --group (count (__hfshare_tokens -pc)) (__hfshare_tokens -tC))'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare migrate" dry-run' -l 'dry-run' -d 'Print what would be moved, shared and reported, and change nothing (blobs are still verified).'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare migrate" remove-source' -l 'remove-source' -d 'Remove SRC afterwards if nothing was left in it.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare migrate" q quiet' -l 'quiet' -s 'q' -d 'Print only problems and the totals.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare migrate" json' -l 'json' -d 'Print the report as one JSON object (repos, bytes moved and saved, ref conflicts, problems) instead of text.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare migrate" version' -l 'version' -d 'Show the version.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare migrate" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare probe" -eq 1' -fa '(__hfshare_complete_directories)'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare probe" peer' -l 'peer' -d 'Another mount of the same filesystem, to test locks and ownership across mounts.' -rfa '(__hfshare_complete_directories)'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare probe" gid' -l 'gid' -d 'Gid for the setgid and ACL checks.' -rfka ''
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare probe" json' -l 'json' -d 'Print the result as one JSON object.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare probe" version' -l 'version' -d 'Show the version.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare probe" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare env" -eq 1' -fa '(__hfshare_complete_directories)'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare env" format' -l 'format' -d 'Where the process runs: sh, systemd, docker or compose.' -rfka 'sh systemd docker compose'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare env" install-unit' -l 'install-unit' -d 'Write the systemd drop-in for this service (NAME.service.d/hfshare.conf) and reload systemd.' -rfka ''
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare env" dry-run' -l 'dry-run' -d 'With --install-unit: print what would be written and change nothing.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare env" reader' -l 'reader' -d 'Print a reader group\'s settings (read-only, HF_HUB_OFFLINE=1, per-user datasets/xet/assets caches). Default: the reader group of the user running this, when that user is not a writer.' -rfka '(__hfshare_custom_completion ---completion env -- --reader (count (__hfshare_tokens -pc)) (__hfshare_tokens -tC))'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare env" version' -l 'version' -d 'Show the version.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare env" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare du" -eq 1' -fa '(__hfshare_complete_directories)'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare du" by' -l 'by' -d 'Rows: repo (default), revision or user.' -rfka 'repo revision user'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare du" format' -l 'format' -d 'Output format: text, json or prometheus.' -rfka 'text json prometheus'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare du" json' -l 'json' -d 'Same as --format json.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare du" unused-for' -l 'unused-for' -d 'Age for the prunable-bytes metric and the \'prunable\' mark: 30d, 2w, 36h.' -rfka ''
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare du" textfile' -l 'textfile' -d 'With --format prometheus: write the metrics to this file atomically.' -rF
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare du" threads' -l 'threads' -d 'Repos walked at once. Default: what \'hfshare probe\' measured for ROOT\'s filesystem (ROOT/.hfshare/probe.json), else 8, or one per CPU if more.' -rfka ''
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare du" version' -l 'version' -d 'Show the version.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare du" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare prune" -eq 1' -fa '(__hfshare_complete_directories)'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare prune" unused-for' -l 'unused-for' -d 'Remove revisions not used for this long: 30d, 2w, 36h.' -rfka ''
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare prune" max-size' -l 'max-size' -d 'Watermark: remove until the cache\'s blobs take at most SIZE (500G, 2T, 1.5TiB; powers of 1024).' -rfka ''
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare prune" keep-free' -l 'keep-free' -d 'Watermark: remove until the filesystem has this much available: 15% or a SIZE.' -rfka ''
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare prune" detached' -l 'detached' -d 'Only revisions no ref points to.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare prune"' -l 'repo' -d 'Only repos whose cache dir name matches this fnmatch pattern (repeatable), e.g. \'models--org--*\'.' -rfka ''
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare prune" min-age' -l 'min-age' -d 'Never remove a revision used more recently than this (a job may be about to load it).' -rfka ''
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare prune" dry-run' -l 'dry-run' -d 'Show what would be removed and how many bytes it frees; change nothing.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare prune" json' -l 'json' -d 'Print the report as one JSON object.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare prune" q quiet' -l 'quiet' -s 'q' -d 'Print only problems and the totals.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare prune" version' -l 'version' -d 'Show the version.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare prune" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare pin" root' -l 'root' -d 'The cache root. Default: the one registered root.' -rfa '(__hfshare_complete_directories)'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare pin" list' -l 'list' -d 'List the pins.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare pin" json' -l 'json' -d 'With --list: print JSON.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare pin" version' -l 'version' -d 'Show the version.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare pin" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare unpin" root' -l 'root' -d 'The cache root. Default: the one registered root.' -rfa '(__hfshare_complete_directories)'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare unpin" version' -l 'version' -d 'Show the version.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare unpin" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare readers" version' -l 'version' -d 'Show the version.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare readers" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare readers" -eq 1' -fa 'add' -d 'Give groups read-only use of the cache (root only).'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare readers" -eq 1' -fa 'remove' -d 'Take read-only use away from groups; their ACL entries go too (root only).'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare readers" -eq 1' -fa 'list' -d 'List the reader groups (anyone).'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare readers add" -ge 1' -fka '(__hfshare_custom_completion ---completion readers add -- positional@0 (count (__hfshare_tokens -pc)) (__hfshare_tokens -tC))'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare readers add" root' -l 'root' -d 'The cache root. Default: the one registered root.' -rfa '(__hfshare_complete_directories)'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare readers add" dry-run' -l 'dry-run' -d 'Print what would change (the list, the directories, the repair) and change nothing.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare readers add" no-repair' -l 'no-repair' -d 'Only change the list; do not run the repair that applies it (the next \'hfshare repair\' does).'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare readers add" version' -l 'version' -d 'Show the version.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare readers add" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_positional "hfshare readers remove" -ge 1' -fka '(__hfshare_custom_completion ---completion readers remove -- positional@0 (count (__hfshare_tokens -pc)) (__hfshare_tokens -tC))'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare readers remove" root' -l 'root' -d 'The cache root. Default: the one registered root.' -rfa '(__hfshare_complete_directories)'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare readers remove" dry-run' -l 'dry-run' -d 'Print what would change (the list, the directories, the repair) and change nothing.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare readers remove" no-repair' -l 'no-repair' -d 'Only change the list; do not run the repair that applies it (the next \'hfshare repair\' does).'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare readers remove" version' -l 'version' -d 'Show the version.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare readers remove" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare readers list" root' -l 'root' -d 'The cache root. Default: the one registered root.' -rfa '(__hfshare_complete_directories)'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare readers list" version' -l 'version' -d 'Show the version.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare readers list" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare restrict" group' -l 'group' -d 'The licensed group: the only one that may read (and, for writers, write) these repos.' -rfka '(__hfshare_custom_completion ---completion restrict -- --group (count (__hfshare_tokens -pc)) (__hfshare_tokens -tC))'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare restrict" list' -l 'list' -d 'List the restricted repo patterns and their groups.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare restrict" json' -l 'json' -d 'With --list: print JSON.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare restrict" root' -l 'root' -d 'The cache root. Default: the one registered root.' -rfa '(__hfshare_complete_directories)'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare restrict" dry-run' -l 'dry-run' -d 'Print what would change (the list, the directories, the repair) and change nothing.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare restrict" no-repair' -l 'no-repair' -d 'Only change the list; do not run the repair that applies it (the next \'hfshare repair\' does).'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare restrict" version' -l 'version' -d 'Show the version.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare restrict" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare unrestrict" root' -l 'root' -d 'The cache root. Default: the one registered root.' -rfa '(__hfshare_complete_directories)'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare unrestrict" dry-run' -l 'dry-run' -d 'Print what would change (the list, the directories, the repair) and change nothing.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare unrestrict" no-repair' -l 'no-repair' -d 'Only change the list; do not run the repair that applies it (the next \'hfshare repair\' does).'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare unrestrict" version' -l 'version' -d 'Show the version.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare unrestrict" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'hfshare' -n '__hfshare_should_offer_completions_for_flags_or_options "hfshare help" version' -l 'version' -d 'Show the version.'
