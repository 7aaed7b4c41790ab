from setuptools import find_packages, setup

setup(
    name="forecasting",
    version="0.1.0",
    description="Many-model Prophet forecasting on Spark, tracked in MLflow.",
    package_dir={"": "src"},
    packages=find_packages("src"),
    package_data={"forecasting": ["defaults.yaml"]},
    python_requires=">=3.11,<3.13",  # constraints.txt pins for 3.11 and 3.12
    install_requires=[
        "pyspark>=4.0,<4.1",
        "pandas>=2.2,<2.3",
        "numpy<2",
        "pyarrow>=11",
        "prophet==1.1.6",
        "cmdstanpy<1.3",
        "hyperopt>=0.2.7,<0.3",
        "mlflow>=2.22,<3",
        "matplotlib",
        "PyYAML",
        "deltalake>=1.1,<2",  # python -m forecasting, serving and the notebook read the tables without Spark
    ],
)
