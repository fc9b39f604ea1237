#!/usr/bin/env bash
# The one command of a lent GPU machine for the full recipes of pipelines 2 and 3 and for the held-out-patient
# benchmark of the lesion-grounded model (docs/training.md, "On a lent GPU"). Given to the device tool's `run` with
# carry [".device/wheels", "<pack>"], packs made by python -m tools.device_pack:
#
#   bash benchmarks/device_recipes.sh .device/kaggle-224 --only ssl_simclr_resnet50 spp-kaggle basic-kaggle
#   bash benchmarks/device_recipes.sh .device/lesion-128 --folds 5 --models lesion --variant gpu
#   bash benchmarks/device_recipes.sh .device/lesion-128 --folds 5 --models lesion --variant gpu-e40 -- --epochs 40
#
# With the lesion pack (Kaggle, LGG and IXI) the arguments are those of python -m benchmarks.external_validation,
# whose record (docs/reports/external_validation.{json,md}) comes back; the pack holds no other scanner's volume.
# It installs the carried wheels, measures the GPU training-throughput goal once per machine (the Kaggle packs
# only), then runs the chosen tools/full_recipes.py entries for at most DEVICE_SECONDS (default 480) with
# mixed precision and 12 loader workers. Every run resumes from its runs/ folder, which stays on a warm machine
# between calls. Records, logs and notes come back in $OUT/device_results.tgz, even after a time-out.
set -uo pipefail
pack=${1:?usage: device_recipes.sh <pack folder under .device> [python -m tools.full_recipes arguments]}
shift
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    .device/wheels/*.whl || exit 1
export PYTHONPATH="/tmp/site:$PWD" MONAI_DATA_DIRECTORY="$PWD/$pack" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, torchvision, monai; print(torch.__version__, torchvision.__version__, monai.__version__)"

data=$(python3 -m tools.device_pack --describe "$pack") || exit 1
if [ -d "$pack/brain-tumor-mri-dataset" ] && [ ! -d "$pack/lgg-mri-segmentation" ] && [ ! -e runs/device_throughput.done ]; then
    mkdir -p runs
    timeout 240 python3 -m benchmarks.train_throughput --device cuda --amp fp16 --channels-last --num-workers 12 \
        --epochs 2 --skip stage1 --note "$data" && touch runs/device_throughput.done
fi
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
if [ -d "$pack/lgg-mri-segmentation" ]; then
    # the caller's overrides (after its own --) and the device's go to every training and evaluation command
    case " $* " in *" -- "*) separator=() ;; *) separator=(--) ;; esac
    timeout --kill-after=20 "${DEVICE_SECONDS:-480}" python3 -m benchmarks.external_validation \
        --cores-note "trained on one lent $gpu with $(nproc) CPU cores and nothing else running; $data" \
        "$@" ${separator[@]+"${separator[@]}"} --amp true --num_workers 12 --other_healthy "[]"
    status=$?
    tar czf "${OUT:-runs}/device_results.tgz" docs/reports/external_validation.json docs/reports/external_validation.md \
        bundles/resnet18_multisource/folds/*/logs bundles/resnet18_multisource/folds/*/train.done 2>/dev/null
    exit $status
fi
timeout --kill-after=20 "${DEVICE_SECONDS:-480}" python3 -m tools.full_recipes "$@" \
    --note "trained on one lent $gpu with $(nproc) CPU cores and nothing else running; $data" \
    -- --amp true --num_workers 12
status=$?
tar czf "${OUT:-runs}/device_results.tgz" docs/results docs/reports/results.md docs/reports/benchmarks.md runs/*/note.txt \
    /tmp/monai_tumorcls_results 2>/dev/null
exit $status
