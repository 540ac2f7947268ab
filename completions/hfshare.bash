#!/bin/bash

__hfshare_cursor_index_in_current_word() {
    local remaining="${COMP_LINE}"

    local word
    for word in "${COMP_WORDS[@]::COMP_CWORD}"; do
        remaining="${remaining##*([[:space:]])"${word}"*([[:space:]])}"
    done

    local -ir index="$((COMP_POINT - ${#COMP_LINE} + ${#remaining}))"
    if [[ "${index}" -le 0 ]]; then
        printf 0
    else
        printf %s "${index}"
    fi
}

# positional arguments:
#
# - 1: the current (sub)command's count of positional arguments
#
# required variables:
#
# - repeating_flags: the repeating flags that the current (sub)command can accept
# - non_repeating_flags: the non-repeating flags that the current (sub)command can accept
# - repeating_options: the repeating options that the current (sub)command can accept
# - non_repeating_options: the non-repeating options that the current (sub)command can accept
# - positional_number: value ignored
# - unparsed_words: unparsed words from the current command line
#
# modified variables:
#
# - non_repeating_flags: remove flags for this (sub)command that are already on the command line
# - non_repeating_options: remove options for this (sub)command that are already on the command line
# - positional_number: set to the current positional number
# - unparsed_words: remove all flags, options, and option values for this (sub)command
__hfshare_offer_flags_options() {
    local -ir positional_count="${1}"
    positional_number=0

    local was_flag_option_terminator_seen=false
    local is_parsing_option_value=false

    local -ar unparsed_word_indices=("${!unparsed_words[@]}")
    local -i word_index
    for word_index in "${unparsed_word_indices[@]}"; do
        if "${is_parsing_option_value}"; then
            # This word is an option value:
            # Reset marker for next word iff not currently the last word
            [[ "${word_index}" -ne "${unparsed_word_indices[${#unparsed_word_indices[@]} - 1]}" ]] && is_parsing_option_value=false
            unset "unparsed_words[${word_index}]"
            # Do not process this word as a flag or an option
            continue
        fi

        local word="${unparsed_words["${word_index}"]}"
        if ! "${was_flag_option_terminator_seen}"; then
            case "${word}" in
            --)
                unset "unparsed_words[${word_index}]"
                # by itself -- is a flag/option terminator, but if it is the last word, it is the start of a completion
                if [[ "${word_index}" -ne "${unparsed_word_indices[${#unparsed_word_indices[@]} - 1]}" ]]; then
                    was_flag_option_terminator_seen=true
                fi
                continue
                ;;
            -*)
                # ${word} is a flag or an option
                # If ${word} is an option, mark that the next word to be parsed is an option value
                local option
                for option in "${repeating_options[@]}" "${non_repeating_options[@]}"; do
                    [[ "${word}" = "${option}" ]] && is_parsing_option_value=true && break
                done

                # Remove ${word} from ${non_repeating_flags} or ${non_repeating_options} so it isn't offered again
                local not_found=true
                local -i index
                for index in "${!non_repeating_flags[@]}"; do
                    if [[ "${non_repeating_flags[${index}]}" = "${word}" ]]; then
                        unset "non_repeating_flags[${index}]"
                        non_repeating_flags=("${non_repeating_flags[@]}")
                        not_found=false
                        break
                    fi
                done
                if "${not_found}"; then
                    for index in "${!non_repeating_flags[@]}"; do
                        if [[ "${non_repeating_flags[${index}]}" = "${word}" ]]; then
                            unset "non_repeating_flags[${index}]"
                            non_repeating_flags=("${non_repeating_flags[@]}")
                            break
                        fi
                    done
                fi
                unset "unparsed_words[${word_index}]"
                continue
                ;;
            esac
        fi

        # ${word} is neither a flag, nor an option, nor an option value
        if [[ "${positional_number}" -lt "${positional_count}" || "${positional_count}" -lt 0 ]]; then
            # ${word} is a positional
            ((positional_number++))
            unset "unparsed_words[${word_index}]"
        else
            if [[ -z "${word}" ]]; then
                # Could be completing a flag, option, or subcommand
                positional_number=-1
            else
                # ${word} is a subcommand or invalid, so stop processing this (sub)command
                positional_number=-2
            fi
            break
        fi
    done

    unparsed_words=("${unparsed_words[@]}")

    if\
        ! "${was_flag_option_terminator_seen}"\
        && ! "${is_parsing_option_value}"\
        && [[ ("${cur}" = -* && "${positional_number}" -ge 0) || "${positional_number}" -eq -1 ]]
    then
        COMPREPLY+=($(compgen -W "${repeating_flags[*]} ${non_repeating_flags[*]} ${repeating_options[*]} ${non_repeating_options[*]}" -- "${cur}"))
    fi
}

__hfshare_add_completions() {
    local completion
    while IFS='' read -r completion; do
        COMPREPLY+=("${completion}")
    done < <(IFS=$'\n' compgen "${@}" -- "${cur}")
}

__hfshare_custom_complete() {
    if [[ -n "${cur}" || -z ${COMP_WORDS[${COMP_CWORD}]} || "${COMP_LINE:${COMP_POINT}:1}" != ' ' ]]; then
        local -ar words=("${COMP_WORDS[@]}")
    else
        local -ar words=("${COMP_WORDS[@]::${COMP_CWORD}}" '' "${COMP_WORDS[@]:${COMP_CWORD}}")
    fi

    "${COMP_WORDS[0]}" "${@}" "${words[@]}"
}

_hfshare() {
    local state
    state="$(shopt -p;shopt -po)"
    trap "${state//$'\n'/;}" RETURN
    shopt -s extglob
    set +o history +o posix

    local -xr SAP_SHELL=bash
    local -x SAP_SHELL_VERSION
    SAP_SHELL_VERSION="$(IFS='.';printf %s "${BASH_VERSINFO[*]}")"
    local -r SAP_SHELL_VERSION

    local -r cur="${2}"
    local -r prev="${3}"

    local -i positional_number
    local -a unparsed_words=("${COMP_WORDS[@]:1:${COMP_CWORD}}")

    local -a repeating_flags=()
    local -a non_repeating_flags=(--version -h --help)
    local -a repeating_options=()
    local -a non_repeating_options=()
    __hfshare_offer_flags_options 0

    # Offer subcommand / subcommand argument completions
    local -r subcommand="${unparsed_words[0]}"
    unset 'unparsed_words[0]'
    unparsed_words=("${unparsed_words[@]}")
    case "${subcommand}" in
    init|audit|repair|verify|namei|user|doctor|migrate|probe|env|du|prune|pin|unpin|readers|restrict|unrestrict|help)
        # Offer subcommand argument completions
        "_hfshare_${subcommand}"
        ;;
    *)
        # Offer subcommand completions
        COMPREPLY+=($(compgen -W 'init audit repair verify namei user doctor migrate probe env du prune pin unpin readers restrict unrestrict help' -- "${cur}"))
        ;;
    esac
}

_hfshare_init() {
    repeating_flags=()
    non_repeating_flags=(--create-group --root-is-member --no-profile --print-env --enable-timer --force --dry-run --quiet -q --version -h --help)
    repeating_options=(--readers)
    non_repeating_options=(--group --gid --other)
    __hfshare_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--group')
        __hfshare_add_completions -W "$(__hfshare_custom_complete ---completion init -- --group "${COMP_CWORD}" "$(__hfshare_cursor_index_in_current_word)")"
        return
        ;;
    '--gid')
        return
        ;;
    '--other')
        return
        ;;
    '--readers')
        __hfshare_add_completions -W "$(__hfshare_custom_complete ---completion init -- --readers "${COMP_CWORD}" "$(__hfshare_cursor_index_in_current_word)")"
        return
        ;;
    esac

    # Offer positional completions
    case "${positional_number}" in
    1)
        __hfshare_add_completions -d
        return
        ;;
    esac
}

_hfshare_audit() {
    repeating_flags=()
    non_repeating_flags=(--force --root-is-member --all --quiet -q --fix --dry-run --version -h --help)
    repeating_options=(--exclude)
    non_repeating_options=(--group --stale-age --threads --format --textfile)
    __hfshare_offer_flags_options -1

    # Offer option value completions
    case "${prev}" in
    '--group')
        __hfshare_add_completions -W "$(__hfshare_custom_complete ---completion audit -- --group "${COMP_CWORD}" "$(__hfshare_cursor_index_in_current_word)")"
        return
        ;;
    '--stale-age')
        return
        ;;
    '--exclude')
        return
        ;;
    '--threads')
        return
        ;;
    '--format')
        __hfshare_add_completions -W 'text'$'\n''jsonl'$'\n''prometheus'
        return
        ;;
    '--textfile')
        __hfshare_add_completions -f
        return
        ;;
    esac

    # Offer positional completions
    case "${positional_number}" in
    *)
        __hfshare_add_completions -d
        return
        ;;
    esac
}

_hfshare_repair() {
    repeating_flags=()
    non_repeating_flags=(--force --root-is-member --all --quiet -q --dry-run --version -h --help)
    repeating_options=(--exclude)
    non_repeating_options=(--group --stale-age --threads --format)
    __hfshare_offer_flags_options -1

    # Offer option value completions
    case "${prev}" in
    '--group')
        __hfshare_add_completions -W "$(__hfshare_custom_complete ---completion repair -- --group "${COMP_CWORD}" "$(__hfshare_cursor_index_in_current_word)")"
        return
        ;;
    '--stale-age')
        return
        ;;
    '--exclude')
        return
        ;;
    '--threads')
        return
        ;;
    '--format')
        __hfshare_add_completions -W 'text'$'\n''jsonl'$'\n''prometheus'
        return
        ;;
    esac

    # Offer positional completions
    case "${positional_number}" in
    *)
        __hfshare_add_completions -d
        return
        ;;
    esac
}

_hfshare_verify() {
    repeating_flags=()
    non_repeating_flags=(--full --fix --json --quiet -q --version -h --help)
    repeating_options=()
    non_repeating_options=(--threads)
    __hfshare_offer_flags_options -1

    # Offer option value completions
    case "${prev}" in
    '--threads')
        return
        ;;
    esac

    # Offer positional completions
    case "${positional_number}" in
    *)
        __hfshare_add_completions -d
        return
        ;;
    esac
}

_hfshare_namei() {
    repeating_flags=()
    non_repeating_flags=(--json --long -l --modes -m --owners -o -n --nosymlinks --nolinks --vertical -v -x --mountpoints --version -h --help)
    repeating_options=(--user --group)
    non_repeating_options=(--want)
    __hfshare_offer_flags_options -1

    # Offer option value completions
    case "${prev}" in
    '--user')
        __hfshare_add_completions -W "$(__hfshare_custom_complete ---completion namei -- --user "${COMP_CWORD}" "$(__hfshare_cursor_index_in_current_word)")"
        return
        ;;
    '--group')
        __hfshare_add_completions -W "$(__hfshare_custom_complete ---completion namei -- --group "${COMP_CWORD}" "$(__hfshare_cursor_index_in_current_word)")"
        return
        ;;
    '--want')
        return
        ;;
    esac

    # Offer positional completions
    case "${positional_number}" in
    *)
        __hfshare_add_completions -f
        return
        ;;
    esac
}

_hfshare_user() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=()
    __hfshare_offer_flags_options 0

    # Offer subcommand / subcommand argument completions
    local -r subcommand="${unparsed_words[0]}"
    unset 'unparsed_words[0]'
    unparsed_words=("${unparsed_words[@]}")
    case "${subcommand}" in
    add|remove|list)
        # Offer subcommand argument completions
        "_hfshare_user_${subcommand}"
        ;;
    *)
        # Offer subcommand completions
        COMPREPLY+=($(compgen -W 'add remove list' -- "${cur}"))
        ;;
    esac
}

_hfshare_user_add() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=(--group)
    __hfshare_offer_flags_options -1

    # Offer option value completions
    case "${prev}" in
    '--group')
        __hfshare_add_completions -W "$(__hfshare_custom_complete ---completion user add -- --group "${COMP_CWORD}" "$(__hfshare_cursor_index_in_current_word)")"
        return
        ;;
    esac

    # Offer positional completions
    case "${positional_number}" in
    *)
        __hfshare_add_completions -W "$(__hfshare_custom_complete ---completion user add -- positional@0 "${COMP_CWORD}" "$(__hfshare_cursor_index_in_current_word)")"
        return
        ;;
    esac
}

_hfshare_user_remove() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=(--group)
    __hfshare_offer_flags_options -1

    # Offer option value completions
    case "${prev}" in
    '--group')
        __hfshare_add_completions -W "$(__hfshare_custom_complete ---completion user remove -- --group "${COMP_CWORD}" "$(__hfshare_cursor_index_in_current_word)")"
        return
        ;;
    esac

    # Offer positional completions
    case "${positional_number}" in
    *)
        __hfshare_add_completions -W "$(__hfshare_custom_complete ---completion user remove -- positional@0 "${COMP_CWORD}" "$(__hfshare_cursor_index_in_current_word)")"
        return
        ;;
    esac
}

_hfshare_user_list() {
    repeating_flags=()
    non_repeating_flags=(--json --version -h --help)
    repeating_options=()
    non_repeating_options=(--group)
    __hfshare_offer_flags_options -1

    # Offer option value completions
    case "${prev}" in
    '--group')
        __hfshare_add_completions -W "$(__hfshare_custom_complete ---completion user list -- --group "${COMP_CWORD}" "$(__hfshare_cursor_index_in_current_word)")"
        return
        ;;
    esac

    # Offer positional completions
    case "${positional_number}" in
    *)
        __hfshare_add_completions -W "$(__hfshare_custom_complete ---completion user list -- positional@0 "${COMP_CWORD}" "$(__hfshare_cursor_index_in_current_word)")"
        return
        ;;
    esac
}

_hfshare_doctor() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=(--user --pid --group --format --timeout)
    __hfshare_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--user')
        __hfshare_add_completions -W "$(__hfshare_custom_complete ---completion doctor -- --user "${COMP_CWORD}" "$(__hfshare_cursor_index_in_current_word)")"
        return
        ;;
    '--pid')
        return
        ;;
    '--group')
        __hfshare_add_completions -W "$(__hfshare_custom_complete ---completion doctor -- --group "${COMP_CWORD}" "$(__hfshare_cursor_index_in_current_word)")"
        return
        ;;
    '--format')
        __hfshare_add_completions -W 'text'$'\n''jsonl'
        return
        ;;
    '--timeout')
        return
        ;;
    esac

    # Offer positional completions
    case "${positional_number}" in
    1)
        __hfshare_add_completions -d
        return
        ;;
    esac
}

_hfshare_migrate() {
    repeating_flags=()
    non_repeating_flags=(--dry-run --remove-source --quiet -q --json --version -h --help)
    repeating_options=()
    non_repeating_options=(--group)
    __hfshare_offer_flags_options 2

    # Offer option value completions
    case "${prev}" in
    '--group')
        __hfshare_add_completions -W "$(__hfshare_custom_complete ---completion migrate -- --group "${COMP_CWORD}" "$(__hfshare_cursor_index_in_current_word)")"
        return
        ;;
    esac

    # Offer positional completions
    case "${positional_number}" in
    1)
        __hfshare_add_completions -d
        return
        ;;
    2)
        __hfshare_add_completions -d
        return
        ;;
    esac
}

_hfshare_probe() {
    repeating_flags=()
    non_repeating_flags=(--json --version -h --help)
    repeating_options=()
    non_repeating_options=(--peer --gid)
    __hfshare_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--peer')
        __hfshare_add_completions -d
        return
        ;;
    '--gid')
        return
        ;;
    esac

    # Offer positional completions
    case "${positional_number}" in
    1)
        __hfshare_add_completions -d
        return
        ;;
    esac
}

_hfshare_env() {
    repeating_flags=()
    non_repeating_flags=(--dry-run --version -h --help)
    repeating_options=()
    non_repeating_options=(--format --install-unit --reader)
    __hfshare_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--format')
        __hfshare_add_completions -W 'sh'$'\n''systemd'$'\n''docker'$'\n''compose'
        return
        ;;
    '--install-unit')
        return
        ;;
    '--reader')
        __hfshare_add_completions -W "$(__hfshare_custom_complete ---completion env -- --reader "${COMP_CWORD}" "$(__hfshare_cursor_index_in_current_word)")"
        return
        ;;
    esac

    # Offer positional completions
    case "${positional_number}" in
    1)
        __hfshare_add_completions -d
        return
        ;;
    esac
}

_hfshare_du() {
    repeating_flags=()
    non_repeating_flags=(--json --version -h --help)
    repeating_options=()
    non_repeating_options=(--by --format --unused-for --textfile --threads)
    __hfshare_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--by')
        __hfshare_add_completions -W 'repo'$'\n''revision'$'\n''user'
        return
        ;;
    '--format')
        __hfshare_add_completions -W 'text'$'\n''json'$'\n''prometheus'
        return
        ;;
    '--unused-for')
        return
        ;;
    '--textfile')
        __hfshare_add_completions -f
        return
        ;;
    '--threads')
        return
        ;;
    esac

    # Offer positional completions
    case "${positional_number}" in
    1)
        __hfshare_add_completions -d
        return
        ;;
    esac
}

_hfshare_prune() {
    repeating_flags=()
    non_repeating_flags=(--detached --dry-run --json --quiet -q --version -h --help)
    repeating_options=(--repo)
    non_repeating_options=(--unused-for --max-size --keep-free --min-age)
    __hfshare_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--unused-for')
        return
        ;;
    '--max-size')
        return
        ;;
    '--keep-free')
        return
        ;;
    '--repo')
        return
        ;;
    '--min-age')
        return
        ;;
    esac

    # Offer positional completions
    case "${positional_number}" in
    1)
        __hfshare_add_completions -d
        return
        ;;
    esac
}

_hfshare_pin() {
    repeating_flags=()
    non_repeating_flags=(--list --json --version -h --help)
    repeating_options=()
    non_repeating_options=(--root)
    __hfshare_offer_flags_options -1

    # Offer option value completions
    case "${prev}" in
    '--root')
        __hfshare_add_completions -d
        return
        ;;
    esac
}

_hfshare_unpin() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=(--root)
    __hfshare_offer_flags_options -1

    # Offer option value completions
    case "${prev}" in
    '--root')
        __hfshare_add_completions -d
        return
        ;;
    esac
}

_hfshare_readers() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=()
    __hfshare_offer_flags_options 0

    # Offer subcommand / subcommand argument completions
    local -r subcommand="${unparsed_words[0]}"
    unset 'unparsed_words[0]'
    unparsed_words=("${unparsed_words[@]}")
    case "${subcommand}" in
    add|remove|list)
        # Offer subcommand argument completions
        "_hfshare_readers_${subcommand}"
        ;;
    *)
        # Offer subcommand completions
        COMPREPLY+=($(compgen -W 'add remove list' -- "${cur}"))
        ;;
    esac
}

_hfshare_readers_add() {
    repeating_flags=()
    non_repeating_flags=(--dry-run --no-repair --version -h --help)
    repeating_options=()
    non_repeating_options=(--root)
    __hfshare_offer_flags_options -1

    # Offer option value completions
    case "${prev}" in
    '--root')
        __hfshare_add_completions -d
        return
        ;;
    esac

    # Offer positional completions
    case "${positional_number}" in
    *)
        __hfshare_add_completions -W "$(__hfshare_custom_complete ---completion readers add -- positional@0 "${COMP_CWORD}" "$(__hfshare_cursor_index_in_current_word)")"
        return
        ;;
    esac
}

_hfshare_readers_remove() {
    repeating_flags=()
    non_repeating_flags=(--dry-run --no-repair --version -h --help)
    repeating_options=()
    non_repeating_options=(--root)
    __hfshare_offer_flags_options -1

    # Offer option value completions
    case "${prev}" in
    '--root')
        __hfshare_add_completions -d
        return
        ;;
    esac

    # Offer positional completions
    case "${positional_number}" in
    *)
        __hfshare_add_completions -W "$(__hfshare_custom_complete ---completion readers remove -- positional@0 "${COMP_CWORD}" "$(__hfshare_cursor_index_in_current_word)")"
        return
        ;;
    esac
}

_hfshare_readers_list() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=(--root)
    __hfshare_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--root')
        __hfshare_add_completions -d
        return
        ;;
    esac
}

_hfshare_restrict() {
    repeating_flags=()
    non_repeating_flags=(--list --json --dry-run --no-repair --version -h --help)
    repeating_options=()
    non_repeating_options=(--group --root)
    __hfshare_offer_flags_options -1

    # Offer option value completions
    case "${prev}" in
    '--group')
        __hfshare_add_completions -W "$(__hfshare_custom_complete ---completion restrict -- --group "${COMP_CWORD}" "$(__hfshare_cursor_index_in_current_word)")"
        return
        ;;
    '--root')
        __hfshare_add_completions -d
        return
        ;;
    esac
}

_hfshare_unrestrict() {
    repeating_flags=()
    non_repeating_flags=(--dry-run --no-repair --version -h --help)
    repeating_options=()
    non_repeating_options=(--root)
    __hfshare_offer_flags_options -1

    # Offer option value completions
    case "${prev}" in
    '--root')
        __hfshare_add_completions -d
        return
        ;;
    esac
}

_hfshare_help() {
    repeating_flags=()
    non_repeating_flags=(--version)
    repeating_options=()
    non_repeating_options=()
    __hfshare_offer_flags_options -1
}

complete -o filenames -F _hfshare hfshare
