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
	if ((COMP_CWORD == 1)) && [[ $cur != -* ]]; then
		COMPREPLY=($(compgen -W "top report compare" -- "$cur"))
		[[ -n ${COMPREPLY[*]} ]] && return
	fi
	# gcbpf report|compare: saved traces and their options
	if [[ ${COMP_WORDS[1]} == report || ${COMP_WORDS[1]} == compare ]]; then
		case $prev in
		-f|--format)
			if [[ ${COMP_WORDS[1]} == compare ]]; then
				COMPREPLY=($(compgen -W "text jsonl" -- "$cur"))
			else
				COMPREPLY=($(compgen -W "text jsonl chrome folded html" -- "$cur"))
			fi
			return ;;
		--by)
			COMPREPLY=($(compgen -W "service pid cmdline" -- "$cur"))
			return ;;
		--gen)
			COMPREPLY=($(compgen -W "0 1 2" -- "$cur"))
			return ;;
		-p|--pid|--match|--service|--since|--until|--fail-if|--min-change|--run-noise|--seed|--resamples)
			return ;;
		esac
		if [[ $cur == -* && ${COMP_WORDS[1]} == report ]]; then
			COMPREPLY=($(compgen -W "-f --format -o --output --html --stats --hist --hist=pid
				--table-format --by-stack --advice --folded-weight -p --pid --match
				--service --gen --since --until -v --verbose --help" -- "$cur"))
		elif [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--by --gen --service --match -f --format -o --output
				--fail-if --min-change --run-noise --stacks --seed --resamples --help" -- "$cur"))
		else
			COMPREPLY=($(compgen -f -- "$cur"))
		fi
		return
	fi
	case $prev in
	-p|--pid)
		COMPREPLY=($(compgen -W "$(ls /proc | grep -E '^[0-9]+$')" -- "$cur"))
		return ;;
	-f|--format)
		COMPREPLY=($(compgen -W "text jsonl json chrome perfetto folded html" -- "$cur"))
		return ;;
	--folded-weight)
		COMPREPLY=($(compgen -W "sum count" -- "$cur"))
		return ;;
	--folded-what)
		COMPREPLY=($(compgen -W "stacks inside" -- "$cur"))
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
	-d|--duration|-i|--interval|--min-ms|--prometheus|--cgroup|--comm|--match)
		return ;;
	esac
	if [[ $cur == --hist=* ]]; then
		COMPREPLY=(--hist=pid)
		return
	fi
	COMPREPLY=($(compgen -W "-p --pid --strict -a --all --cgroup --comm --gen -d --duration -f --format -o --output -q --quiet
		--list --uprobe --empty-probes --clock-probes --stats -i --interval --table-format --hist
		--hist=pid --min-ms --prometheus --prometheus-pid --bpftrace --stacks --by-stack
		--folded-weight --folded-what --inside --advice --all-events --match --hide-args -v --verbose --help --usage
		--version --" -- "$cur"))
}
complete -F _gcbpf gcbpf
