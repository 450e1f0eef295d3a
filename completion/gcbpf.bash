# bash completion for gcbpf(8)
_gcbpf()
{
	local cur prev
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	local i
	for ((i = 1; i < COMP_CWORD; i++)); do
		if [[ ${COMP_WORDS[i]} == -- ]]; then
			# after --: the command and its arguments
			if ((COMP_CWORD == i + 1)); then
				COMPREPLY=($(compgen -c -- "$cur"))
			else
				COMPREPLY=($(compgen -f -- "$cur"))
			fi
			return
		fi
	done
	case $prev in
	-p|--pid)
		COMPREPLY=($(compgen -W "$(ls /proc | grep -E '^[0-9]+$')" -- "$cur"))
		return ;;
	-f|--format)
		COMPREPLY=($(compgen -W "text jsonl json chrome perfetto" -- "$cur"))
		return ;;
	--table-format)
		COMPREPLY=($(compgen -W "plain md" -- "$cur"))
		return ;;
	-o|--output)
		COMPREPLY=($(compgen -f -- "$cur"))
		return ;;
	--gen)
		COMPREPLY=($(compgen -W "0 1 2" -- "$cur"))
		return ;;
	-d|--duration|-i|--interval|--min-ms|--prometheus|--cgroup|--comm)
		return ;;
	esac
	if [[ $cur == --hist=* ]]; then
		COMPREPLY=(--hist=pid)
		return
	fi
	COMPREPLY=($(compgen -W "-p --pid --strict -a --all --cgroup --comm --gen -d --duration -f --format -o --output -q --quiet
		--list --uprobe --empty-probes --clock-probes --stats -i --interval --table-format --hist
		--hist=pid --min-ms --prometheus --bpftrace --stacks -v --verbose --help --usage
		--version --" -- "$cur"))
}
complete -F _gcbpf gcbpf
